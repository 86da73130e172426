/** Billing periods from outside: dates as `YYYY-MM-DD` (midnight UTC) or ISO-8601 times with an offset. */
import { ControlError } from '../errors.ts';

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Parse a billing date: `2026-11-01` is midnight UTC of that day; `2026-11-01T12:00:00+01:00`
 * an exact time. Returns ISO-8601 UTC text. Throws BAD_REQUEST naming the field and the forms
 * accepted.
 */
export function parseBillingTime(field: string, value: string): string {
  const d = DAY.exec(value);
  if (d) {
    const ms = Date.UTC(Number(d[1]), Number(d[2]) - 1, Number(d[3]));
    const back = new Date(ms);
    if (
      back.getUTCFullYear() === Number(d[1]) &&
      back.getUTCMonth() === Number(d[2]) - 1 &&
      back.getUTCDate() === Number(d[3])
    )
      return back.toISOString();
  } else if (DATETIME.test(value) && Number.isFinite(Date.parse(value))) return new Date(value).toISOString();
  throw new ControlError(
    'BAD_REQUEST',
    `${field} "${value}" is not a date: use YYYY-MM-DD (midnight UTC) or an ISO-8601 time with an offset (2026-11-01T00:00:00Z)`,
    { field },
  );
}

/** A period [from, to) from outside, both parsed; BAD_REQUEST unless from is before to. */
export function parsePeriod(o: { from: string; to: string }): { from: string; to: string } {
  const from = parseBillingTime('from', o.from),
    to = parseBillingTime('to', o.to);
  if (!(Date.parse(from) < Date.parse(to)))
    throw new ControlError('BAD_REQUEST', `from (${o.from}) must be before to (${o.to})`);
  return { from, to };
}
