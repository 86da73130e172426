/** The HTTP status of each control-plane error code: decided here, for nubis's API and OpenStack's. */
import type { ControlError } from '../control/errors.ts';

export const STATUS: Record<ControlError['code'], number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  INVALID_STATE: 409,
  QUOTA_EXCEEDED: 403,
  NO_HOST_FITS: 409,
  CONSTRAINT_VIOLATED: 409,
  BAD_REQUEST: 400,
  IDEMPOTENCY_CONFLICT: 422,
  TOO_MANY_REQUESTS: 429,
  BACKEND: 502,
};
