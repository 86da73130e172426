/**
 * The reconciler's repairs after interrupted operations are settled: VMs left in a transitional
 * state, guests that do not match the records, host and tenant counters recomputed from the records
 * (orphan claims released), and usage records (every billable VM billed once, nothing else billed).
 *
 * Uses: `cp.drivers`, `cp.metering`.
 */
import { sql } from 'kysely';
import type { GuestInfo } from '../../core/hypervisor.ts';
import type { ControlPlane } from '../control-plane.ts';
import type { HostRow } from '../inventory/hosts.ts';
import { Service } from '../service.ts';
import type { VmState } from '../vm-states.ts';

const TRANSITIONAL = ['building', 'migrating', 'resizing'];

/** The VM state a guest's state means (no guest, or a crashed one: error). */
export function stateOf(g: GuestInfo | undefined): VmState | 'error' {
  if (!g || g.state === 'crashed') return 'error';
  return g.state === 'running' ? 'running' : g.state === 'paused' ? 'suspended' : 'stopped';
}

/** The billing class a VM state runs in (as metering opens it). */
function usageClass(state: string): 'running' | 'stopped' | null {
  if (state === 'running' || state === 'suspended' || state === 'migrating' || state === 'resizing')
    return 'running';
  return state === 'stopped' ? 'stopped' : null;
}

/** The guest `id` on `host`: undefined when it is not there, `unreachable` when the host does not answer. */
export async function guestOn(
  cp: ControlPlane,
  host: HostRow | undefined,
  id: string,
): Promise<GuestInfo | undefined | 'unreachable'> {
  if (!host) return undefined;
  try {
    return await cp.drivers.driverFor(host).get(id);
  } catch {
    return 'unreachable';
  }
}

/** The reconciler's repairs (each idempotent; VMs of running operations are left alone). */
export class Repairs extends Service {
  private async busyVms(): Promise<Set<string | null>> {
    const rows = await this.db
      .selectFrom('operations')
      .select('vm_id')
      .where('status', '=', 'running')
      .execute();
    return new Set(rows.map((o) => o.vm_id));
  }

  /** Whether an operation on the VM is running now (it may have started during the sweep). */
  private async busyNow(vmId: string): Promise<boolean> {
    const r = await this.db
      .selectFrom('operations')
      .select('id')
      .where('vm_id', '=', vmId)
      .where('status', '=', 'running')
      .executeTakeFirst();
    return r !== undefined;
  }

  /** Settle a VM to `state` (with its usage) and say why. */
  private async settle(
    v: { id: string; tenant_id: string; host_id: string | null },
    state: VmState | 'error',
    reason: string,
  ) {
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('vms').set({ state, updated_at: this.now() }).where('id', '=', v.id).execute();
      await this.cp.metering.meter(trx, v.id, state);
      await this.event(trx, {
        tenantId: v.tenant_id,
        vmId: v.id,
        hostId: v.host_id,
        actor: 'reconciler',
        kind: state === 'error' ? 'vm.error' : 'vm.recovered',
        detail: { state, reason },
      });
    });
  }

  /** VMs left in a transitional state with no operation (an older crash): their guests say where they are. */
  async settleStrays(): Promise<{ vm: string; state: string }[]> {
    const busy = await this.busyVms();
    const stray = await this.db
      .selectFrom('vms')
      .select(['id', 'name', 'tenant_id', 'host_id', 'state'])
      .where('state', 'in', TRANSITIONAL)
      .where('deleted_at', 'is', null)
      .execute();
    const out: { vm: string; state: string }[] = [];
    for (const v of stray.filter((x) => !busy.has(x.id))) {
      const host = v.host_id
        ? await this.db.selectFrom('hosts').selectAll().where('id', '=', v.host_id).executeTakeFirst()
        : undefined;
      const g = await guestOn(this.cp, host, v.id);
      const state = g === 'unreachable' ? 'error' : stateOf(g);
      await this.settle(v, state, `left ${v.state} with no operation; settled from its guest`);
      out.push({ vm: v.name, state });
    }
    return out;
  }

  /**
   * Compare each answering host's guests with the records: guests of deleted VMs, and of VMs recorded
   * on another host, are removed; a VM recorded running (or suspended) whose guest is gone or crashed
   * goes to error, with the reason (starting it again builds it anew).
   */
  async sweepGuests(): Promise<{ vm: string; host: string }[]> {
    const hosts = await this.db
      .selectFrom('hosts')
      .selectAll()
      .where('state', 'in', ['up', 'maintenance'])
      .execute();
    const busy = await this.busyVms();
    const out: { vm: string; host: string }[] = [];
    for (const h of hosts) {
      const d = this.cp.drivers.driverFor(h);
      let guests: GuestInfo[];
      try {
        guests = await d.list();
      } catch {
        continue;
      }
      const byId = new Map(guests.map((g) => [g.id, g]));
      const rows = guests.length
        ? await this.db
            .selectFrom('vms')
            .select(['id', 'host_id', 'deleted_at'])
            .where('id', 'in', [...byId.keys()])
            .execute()
        : [];
      for (const r of rows) {
        if (busy.has(r.id) || (r.deleted_at === null && r.host_id === h.id)) continue;
        if (await this.busyNow(r.id)) continue; // an operation started since (its guest is incoming)
        await d.delete(r.id).catch(() => undefined);
        out.push({ vm: r.id, host: h.name });
      }
      const live = await this.db
        .selectFrom('vms')
        .select(['id', 'name', 'tenant_id', 'host_id', 'state'])
        .where('host_id', '=', h.id)
        .where('deleted_at', 'is', null)
        .where('state', 'in', ['running', 'suspended'])
        .execute();
      for (const v of live) {
        if (busy.has(v.id)) continue;
        const g = byId.get(v.id);
        if (g && g.state !== 'crashed') continue;
        if (await this.busyNow(v.id)) continue;
        await this.settle(
          v,
          'error',
          g ? `its guest crashed on ${h.name}` : `its guest is gone from ${h.name}`,
        );
      }
    }
    return out;
  }

  /**
   * Recompute host and tenant counters from the records: a host holds the flavors of the live VMs
   * placed on it plus those of running migrations towards it; a tenant those of its live VMs.
   */
  async claims(): Promise<{ hosts: string[]; tenants: string[] }> {
    const sum = (col: 'vcpus' | 'memory_mib' | 'disk_gib') =>
      sql<number>`coalesce((select sum(f.${sql.ref(col)}) from vms v join flavors f on f.id = v.flavor_id where v.host_id = hosts.id and v.deleted_at is null), 0) + coalesce((select sum(f.${sql.ref(col)}) from operations o join vms v on v.id = o.vm_id join flavors f on f.id = v.flavor_id where o.status = 'running' and o.kind = 'migrate' and o.target_host_id = hosts.id), 0)`;
    const count = sql<number>`(select count(*) from vms v where v.host_id = hosts.id and v.deleted_at is null) + (select count(*) from operations o where o.status = 'running' and o.kind = 'migrate' and o.target_host_id = hosts.id)`;
    const hostWrong = sql<boolean>`used_vcpus <> ${sum('vcpus')} or used_memory_mib <> ${sum('memory_mib')} or used_disk_gib <> ${sum('disk_gib')} or vm_count <> ${count}`;
    const tsum = (col: 'vcpus' | 'memory_mib' | 'disk_gib') =>
      sql<number>`coalesce((select sum(f.${sql.ref(col)}) from vms v join flavors f on f.id = v.flavor_id where v.tenant_id = tenants.id and v.deleted_at is null), 0)`;
    const tcount = sql<number>`(select count(*) from vms v where v.tenant_id = tenants.id and v.deleted_at is null)`;
    const tenantWrong = sql<boolean>`used_vcpus <> ${tsum('vcpus')} or used_memory_mib <> ${tsum('memory_mib')} or used_disk_gib <> ${tsum('disk_gib')} or used_vms <> ${tcount}`;
    return this.db.transaction().execute(async (trx) => {
      const hosts = await trx.selectFrom('hosts').select(['id', 'name']).where(hostWrong).execute();
      if (hosts.length)
        await trx
          .updateTable('hosts')
          .set({
            used_vcpus: sum('vcpus'),
            used_memory_mib: sum('memory_mib'),
            used_disk_gib: sum('disk_gib'),
            vm_count: count,
          })
          .where(
            'id',
            'in',
            hosts.map((h) => h.id),
          )
          .execute();
      const tenants = await trx.selectFrom('tenants').select(['id', 'name']).where(tenantWrong).execute();
      if (tenants.length)
        await trx
          .updateTable('tenants')
          .set({
            used_vcpus: tsum('vcpus'),
            used_memory_mib: tsum('memory_mib'),
            used_disk_gib: tsum('disk_gib'),
            used_vms: tcount,
          })
          .where(
            'id',
            'in',
            tenants.map((t) => t.id),
          )
          .execute();
      return { hosts: hosts.map((h) => h.name), tenants: tenants.map((t) => t.name) };
    });
  }

  /**
   * Every billable VM has exactly one open usage interval of its class, host and flavor; VMs that
   * bill nothing (building, error, deleted) have none. VMs of running operations are left alone.
   */
  async usage(): Promise<string[]> {
    const busy = new Set(
      (await this.db.selectFrom('operations').select('vm_id').where('status', '=', 'running').execute()).map(
        (o) => o.vm_id,
      ),
    );
    const open = await this.db.selectFrom('usage').selectAll().where('end_at', 'is', null).execute();
    const byVm = new Map<string, typeof open>();
    for (const u of open) byVm.set(u.vm_id, [...(byVm.get(u.vm_id) ?? []), u]);
    const vms = await this.db
      .selectFrom('vms')
      .select(['id', 'name', 'tenant_id', 'host_id', 'flavor_id', 'state'])
      .execute();
    const out: string[] = [];
    for (const v of vms) {
      if (busy.has(v.id)) continue;
      const cls = usageClass(v.state);
      const mine = byVm.get(v.id) ?? [];
      const keep = cls
        ? mine.find((u) => u.class === cls && u.host_id === v.host_id && u.flavor_id === v.flavor_id)
        : undefined;
      const close = mine.filter((u) => u !== keep);
      if (!close.length && (keep || !cls)) continue;
      await this.db.transaction().execute(async (trx) => {
        if (close.length)
          await trx
            .updateTable('usage')
            .set({ end_at: this.now() })
            .where(
              'id',
              'in',
              close.map((u) => u.id),
            )
            .execute();
        if (cls && !keep)
          await trx
            .insertInto('usage')
            .values({
              vm_id: v.id,
              tenant_id: v.tenant_id,
              host_id: v.host_id,
              flavor_id: v.flavor_id,
              class: cls,
              start_at: this.now(),
              end_at: null,
            })
            .execute();
      });
      out.push(v.name);
    }
    return out;
  }
}
