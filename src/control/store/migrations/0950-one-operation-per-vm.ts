/**
 * Migration 0950-one-operation-per-vm: at most one running operation per VM, enforced by the store
 * (a partial unique index), so two requests on the same VM at once (a delete and a snapshot, two
 * migrations, a stop and an HA restart) can no longer both run and leave the VM in whichever state
 * finished last (a deleted VM recorded running). The second gets 409 until the first ends, like
 * Nova's task_state. Running operations a database already holds twice for one VM (possible before
 * this migration) keep the oldest; the others are ended as failed, for the reconciler to settle the
 * VM from the oldest.
 */
import { sql, type Kysely, type Migration } from 'kysely';

/** The index's name (errors that name it are a second operation on a busy VM). */
export const ONE_OPERATION_INDEX = 'operations_one_per_vm';

/** The migration (the same on SQLite and PostgreSQL). */
export const oneOperationPerVmMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await sql`update operations set status = 'failed', step = 'reconciled:superseded',
        error = 'another operation ran on the VM at the same time'
      where status = 'running' and vm_id is not null and exists (
        select 1 from operations o where o.vm_id = operations.vm_id and o.status = 'running'
          and (o.created_at < operations.created_at
            or (o.created_at = operations.created_at and o.id < operations.id)))`.execute(db);
    await sql
      .raw(
        `create unique index ${ONE_OPERATION_INDEX} on operations (vm_id) where status = 'running' and vm_id is not null`,
      )
      .execute(db);
  },
};
