/** zod pieces shared by several route modules. */
import { z } from 'zod';

/** An object's name: 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit. */
export const name = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, 'letters, digits, ".", "_" or "-", starting with a letter or digit');

/** A tenant's quotas, each optional. */
export const quotas = z
  .object({
    vcpus: z.number().int().min(0),
    memoryMiB: z.number().int().min(0),
    vms: z.number().int().min(0),
    diskGiB: z.number().int().min(0),
  })
  .partial()
  .strict();

/** The `:id` path parameter. */
export const idParam = z.object({ id: z.string().min(1).max(200) }).strict();

/** A billing period `[from, to)` of a tenant, as JSON or CSV. */
export const period = z
  .object({
    tenant: z.string().optional(),
    from: z.iso.datetime({ offset: true }),
    to: z.iso.datetime({ offset: true }),
    format: z.enum(['json', 'csv']).optional(),
  })
  .strict();
