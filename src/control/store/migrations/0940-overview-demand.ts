/**
 * Migration 0940-overview-demand (issue 15): the dashboard's overview sums each host's CPU demand
 * (its running VMs' vCPUs × their last CPU sample) in the store instead of reading every VM's CPU
 * history. On SQLite, where the query runs in the API process, a partial index on the last sample
 * covers that sum (the overview names it with INDEXED BY; its WHERE keeps other queries off it, so
 * their row order is unchanged); PostgreSQL sums in its own process and gets no index.
 */
import { sql, type Kysely, type Migration } from 'kysely';

/**
 * A VM's last CPU sample as SQL: the first number of its `cpu_history` JSON array (as stored by
 * prependSample: no spaces, a sample at most 24 characters), 0 when the array is empty or the sample
 * null, like `JSON.parse(cpu_history)[0] ?? 0`, read as text. The index and the overview's query use
 * this very text (SQLite matches an index expression by its text).
 */
export function vmCpuNowSql(isPg: boolean): string {
  const head = 'substr(cpu_history, 2, 25)';
  return isPg
    ? `coalesce(nullif(nullif(rtrim(split_part(${head}, ',', 1), ']'), ''), 'null')::float8, 0)`
    : `cast(rtrim(substr(${head}, 1, instr(${head} || ',', ',') - 1), ']') as real)`;
}

/** The index the overview's demand sum reads on SQLite. */
export const VM_CPU_NOW_INDEX = 'vms_running_cpu_now';

/** The rows the index holds (and the overview's demand sum reads): live running VMs on a host. */
export const RUNNING_ON_HOST = "deleted_at is null and state = 'running' and host_id is not null";

/** The migration (an index on SQLite, nothing on PostgreSQL). */
export const overviewDemandMigration = (isPg: boolean): Migration => ({
  async up(db: Kysely<unknown>) {
    if (isPg) return;
    await sql
      .raw(
        `create index ${VM_CPU_NOW_INDEX} on vms (${vmCpuNowSql(false)}, host_id, flavor_id) where ${RUNNING_ON_HOST}`,
      )
      .execute(db);
  },
});
