/** zod pieces shared by several route modules. */
import { z } from 'zod';

/** An object's name: 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit. */
export const name = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, 'letters, digits, ".", "_" or "-", starting with a letter or digit');

/**
 * The largest quota (2^31 - 1, a 32-bit integer column on PostgreSQL): set a quota to it for "no
 * limit" (2,147,483,647 vCPUs, or 2 PiB of memory in MiB).
 */
export const QUOTA_MAX = 2147483647;

const quota = z
  .number()
  .int()
  .min(0)
  .max(QUOTA_MAX, `a quota is a whole number from 0 to ${QUOTA_MAX} (the largest: use it for "no limit")`);

/** A tenant's quotas, each optional. */
export const quotas = z
  .object({
    vcpus: quota,
    memoryMiB: quota,
    vms: quota,
    diskGiB: quota,
    networks: quota,
    ports: quota,
    floatingIps: quota,
    securityGroups: quota,
    keypairs: quota,
    volumes: quota,
    volumeGiB: quota,
    volumeSnapshots: quota,
  })
  .partial()
  .strict();

/** Quotas to set: at least one (an empty object once reached the database as an empty update, a 500). */
export const someQuotas = quotas.refine(
  (q) => Object.keys(q).length > 0,
  'give at least one of vcpus, memoryMiB, vms, diskGiB, networks, ports, floatingIps, securityGroups, keypairs, volumes, volumeGiB, volumeSnapshots',
);

/** The `:id` path parameter. */
export const idParam = z.object({ id: z.string().min(1).max(200) }).strict();

/**
 * A time from outside: `YYYY-MM-DD` (midnight UTC) or an ISO-8601 time with an offset. The control
 * plane parses it (src/control/billing/period.ts) and names the field when it is not a date.
 */
export const dateOrTime = z
  .union([z.iso.date(), z.iso.datetime({ offset: true })])
  .describe('YYYY-MM-DD (midnight UTC) or an ISO-8601 time with an offset');

/** A billing period `[from, to)` of a tenant (`to` excluded), as JSON or CSV. */
export const period = z
  .object({
    tenant: z.string().optional(),
    from: dateOrTime,
    to: dateOrTime,
    format: z.enum(['json', 'csv']).optional(),
  })
  .strict();
