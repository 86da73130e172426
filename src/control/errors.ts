/** Errors the control plane's callers handle; the API maps `code` to an HTTP status in one place. */
export type ControlErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'INVALID_STATE'
  | 'QUOTA_EXCEEDED'
  | 'NO_HOST_FITS'
  | 'BAD_REQUEST'
  /** An Idempotency-Key reused with a different request (422). */
  | 'IDEMPOTENCY_CONFLICT'
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
