/**
 * A host's storage pools from what its agent reports (at enrollment and in heartbeats): the host sees
 * the reported pools that exist on the control plane with the same kind (local/shared). A pool the
 * control plane does not have, or has with another kind, is ignored and recorded once per process as
 * a `host.pool-ignored` event. The report defines the host's pools: it replaces what an operator set
 * with `host update --pool` whenever it changes them.
 *
 * Uses: no other service (the pools table and the host row).
 */
import type { Selectable } from 'kysely';
import type { PoolRef } from '../../core/storage/host-storage.ts';
import { recordEvent, type ControlContext } from '../context.ts';
import type { Db } from '../store/open-store.ts';
import type { HostTable } from '../store/schema.ts';

/** What a host agent says about one pool. */
export type ReportedPool = PoolRef;

/** The outcome of a report: the pool names the host now sees, and what was ignored (and why). */
export interface PoolSync {
  pools: string[];
  changed: boolean;
  ignored: { name: string; kind: string; reason: string }[];
}

/**
 * The pool names a host sees given its agent's report: reported pools that exist here with the same
 * kind, sorted and without duplicates.
 */
export function acceptReportedPools(
  reported: readonly ReportedPool[],
  known: readonly { name: string; kind: string }[],
): { pools: string[]; ignored: PoolSync['ignored'] } {
  const byName = new Map(known.map((k) => [k.name, k.kind]));
  const pools = new Set<string>();
  const ignored: PoolSync['ignored'] = [];
  for (const r of reported) {
    const kind = byName.get(r.name);
    if (kind === undefined)
      ignored.push({
        ...r,
        reason: `no storage pool "${r.name}" on the control plane (storage-pool create)`,
      });
    else if (kind !== r.kind)
      ignored.push({
        ...r,
        reason: `the control plane's pool "${r.name}" is ${kind}, the host has it ${r.kind}`,
      });
    else pools.add(r.name);
  }
  return { pools: [...pools].sort(), ignored };
}

/** Per control plane (its context): ignored (host, pool, kind) already recorded, one event each. */
const recordedBy = new WeakMap<object, Set<string>>();

/**
 * Set host `h`'s pools from its agent's report (in `trx`), when they differ from what it has; record
 * a `host.pools-reported` event for a change and a `host.pool-ignored` event the first time a pool is
 * ignored.
 */
export async function syncReportedPools(
  ctx: ControlContext,
  trx: Db,
  h: Pick<Selectable<HostTable>, 'id' | 'name' | 'pools'>,
  reported: readonly ReportedPool[],
  actor: string,
): Promise<PoolSync> {
  const event = (e: { hostId: string; actor: string; kind: string; detail: unknown }) =>
    recordEvent(ctx, trx, e);
  let recorded = recordedBy.get(ctx);
  if (!recorded) recordedBy.set(ctx, (recorded = new Set()));
  const known = await trx.selectFrom('storage_pools').select(['name', 'kind']).execute();
  const { pools, ignored } = acceptReportedPools(reported, known);
  for (const i of ignored) {
    const key = `${h.id}\u0000${i.name}\u0000${i.kind}`;
    if (recorded.has(key)) continue;
    recorded.add(key);
    await event({ hostId: h.id, actor, kind: 'host.pool-ignored', detail: { host: h.name, ...i } });
  }
  const before = JSON.parse(h.pools) as string[];
  const changed = JSON.stringify([...before].sort()) !== JSON.stringify(pools);
  if (changed) {
    await trx
      .updateTable('hosts')
      .set({ pools: JSON.stringify(pools) })
      .where('id', '=', h.id)
      .execute();
    await event({ hostId: h.id, actor, kind: 'host.pools-reported', detail: { before, pools } });
  }
  return { pools, changed, ignored };
}
