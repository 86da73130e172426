/**
 * Several API processes (`nubis serve --workers N`): the scheduler of each process caches the hosts'
 * static attributes (capacity, ratios, reserved, zone, rack, tier) and forgets them when *it* edits
 * a host. A host edited through another process must be forgotten too: each process compares a
 * fingerprint of those attributes every few seconds and drops its cache when it changed.
 */
import { sql } from 'kysely';
import type { Db } from '../store/open-store.ts';

/** The hosts' columns that change without an edit (counters, heartbeats, telemetry, credentials). */
const DYNAMIC = [
  'state',
  'used_vcpus',
  'used_memory_mib',
  'used_disk_gib',
  'vm_count',
  'last_seen_at',
  'energy_at',
  'cpu_history',
  'cpu_times',
  'boot_until',
  'credential_hash',
  'agent_credential',
  'version', // bumped by triggers on state and counters too (placement's change feed)
];

/** An MD5 of every host's other columns (PostgreSQL): it changes when a host is added, edited or deleted. */
export async function hostsFingerprint(db: Db): Promise<string> {
  const r = await sql<{ f: string }>`
    select md5(coalesce(string_agg((to_jsonb(h) - ${sql.val(DYNAMIC)}::text[])::text, ',' order by h.id), '')) as f
    from hosts h`.execute(db);
  return r.rows[0]!.f;
}

/**
 * A check to run every few seconds: calls `forget` when the fingerprint differs from the last one
 * seen (not on the first look: the cache is then filled from the same rows).
 */
export function hostCacheSync(db: Db, forget: () => void): () => Promise<boolean> {
  let last: string | undefined;
  return async () => {
    const f = await hostsFingerprint(db);
    const changed = last !== undefined && f !== last;
    last = f;
    if (changed) forget();
    return changed;
  };
}
