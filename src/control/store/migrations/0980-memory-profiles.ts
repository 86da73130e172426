/**
 * Migration 0980-memory-profiles (issue 17): VMs' measured memory (the agents' `GuestMemoryProfile`s,
 * with a running mean and deviation of the working set), tenants' page-sharing choice, and hosts'
 * memory policy: 'static' (flavor × ratio, Nova's RAM filter) or 'measured' (guarantee outright +
 * demand at a risk, src/policies/memory-overcommit.ts), with its risk and the share of each VM's flavor
 * memory that is guaranteed.
 */
import type { Kysely, Migration } from 'kysely';

/** The migration (the same on SQLite and PostgreSQL). */
export const memoryProfilesMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('vm_memory_profiles')
      .addColumn('vm_id', 'text', (c) => c.primaryKey())
      .addColumn('host_id', 'text', (c) => c.notNull())
      .addColumn('measured_at', 'text', (c) => c.notNull())
      .addColumn('memory_mib', 'double precision', (c) => c.notNull())
      .addColumn('resident_mib', 'double precision', (c) => c.notNull())
      .addColumn('working_set_mib', 'double precision', (c) => c.notNull())
      .addColumn('ws_mean_mib', 'double precision', (c) => c.notNull())
      .addColumn('ws_sd_mib', 'double precision', (c) => c.notNull())
      .addColumn('ws_var_mib2', 'double precision', (c) => c.notNull())
      .addColumn('samples', 'integer', (c) => c.notNull())
      .addColumn('mergeable', 'integer', (c) => c.notNull())
      .addColumn('fingerprint', 'text')
      .execute();
    await db.schema
      .createIndex('vm_memory_profiles_host')
      .on('vm_memory_profiles')
      .column('host_id')
      .execute();
    await db.schema
      .alterTable('tenants')
      .addColumn('memory_sharing', 'text', (c) => c.notNull().defaultTo('shared'))
      .execute();
    await db.schema
      .alterTable('hosts')
      .addColumn('memory_policy', 'text', (c) => c.notNull().defaultTo('static'))
      .execute();
    await db.schema
      .alterTable('hosts')
      .addColumn('memory_risk', 'double precision', (c) => c.notNull().defaultTo(0.01))
      .execute();
    await db.schema
      .alterTable('hosts')
      .addColumn('memory_guarantee', 'double precision', (c) => c.notNull().defaultTo(0.5))
      .execute();
    // The scheduler asks for the measured hosts before every decision: an index, not a scan of every host.
    await db.schema.createIndex('hosts_memory_policy').on('hosts').column('memory_policy').execute();
  },
};
