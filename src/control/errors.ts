/** Errors the control plane's callers handle; the API maps `code` to an HTTP status in one place. */
export type ControlErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'INVALID_STATE'
  | 'QUOTA_EXCEEDED'
  | 'NO_HOST_FITS'
  /** A hard placement constraint refuses the host asked for (409; the message names it and the VMs). */
  | 'CONSTRAINT_VIOLATED'
  | 'BAD_REQUEST'
  /** An Idempotency-Key reused with a different request (422). */
  | 'IDEMPOTENCY_CONFLICT'
  /** Too many requests or runs at once (429, with Retry-After from `details.retryAfterS`). */
  | 'TOO_MANY_REQUESTS'
  | 'BACKEND';

export class ControlError extends Error {
  constructor(
    readonly code: ControlErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
