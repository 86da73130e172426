/**
 * The control plane's service layer: tenants, users, tokens, inventory, VMs and their lifecycle,
 * placement, quotas, operations and the event log. Every state change is one transaction; the
 * hypervisor work happens through drivers after the record is safe.
 */
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { HypervisorDriver } from '../core/hypervisor.ts';
import { AgentDriver } from '../drivers/agent/agent-driver.ts';
import { placeVm, type HostView, type PlacementDecision } from '../policies/placement/pipeline.ts';
import { scalingDecision, type ScalingPolicy } from '../policies/autoscaling.ts';
import {
  checkPlan,
  DEFAULT_CONCURRENCY,
  DEFAULT_PLAN_OPTIONS,
  orderMoves,
  planConsolidation,
  scheduleWaves,
  summarize,
  type ConcurrencyLimits,
  type ConsolidationPlanOptions,
  type Plan,
  type PlanAction,
  type PlanHost,
} from '../policies/plans/plan.ts';
import {
  DEFAULT_LOAD_OPTIONS,
  LOAD_HISTORY,
  planLoadAware,
  planSpread,
  type LoadCluster,
} from '../policies/plans/load-plan.ts';
import { parsePolicy, PolicySpecError } from '../policies/registry.ts';
import { attributeHostPower, idlePowerW, maxPowerW, powerW, type PowerModelSpec } from '../models/power.ts';
import { failoverShortfall } from '../policies/ha.ts';
import { seededRandom } from '../runtime/random.ts';
import { predictMigration } from '../models/migration.ts';
import type { Clock } from '../runtime/clock.ts';
import { ControlError } from './errors.ts';
import { nowIso, recordEvent, unique, type ControlContext, type EventInput } from './context.ts';
import { cryptoIds, type IdSource } from '../runtime/ids.ts';
import type { Db } from './store/open-store.ts';
import type { Selectable } from 'kysely';
import type { VmTable } from './store/schema.ts';
type VmRow = Selectable<VmTable>;
import { allowedActions, VM_ACTIONS, type VmAction, type VmState } from './vm-states.ts';

export const ROLES = ['admin', 'operator', 'member', 'reader'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  userId: string;
  userName: string;
  tenantId: string;
  role: Role;
  tokenId: string;
}

export interface Quotas {
  vcpus: number;
  memoryMiB: number;
  vms: number;
  diskGiB: number;
}
export const DEFAULT_QUOTAS: Quotas = { vcpus: 64, memoryMiB: 262144, vms: 100, diskGiB: 4096 };

export interface VmView {
  ha: boolean;
  haPriority: number;
  id: string;
  name: string;
  tenantId: string;
  state: VmState;
  flavor: string;
  image: string;
  hostId: string | null;
  hostName?: string | null;
  serverGroupId: string | null;
  createdAt: string;
  updatedAt: string;
  /** Latest measured CPU utilization of its vCPUs (0..1), or null before the first report. */
  cpu: number | null;
  allowedActions: VmAction[];
}

export const hashToken = (t: string) => createHash('sha256').update(t).digest('hex');

export interface ControlPlaneOptions {
  db: Db;
  clock: Clock;
  /** Where ids and tokens come from (the OS's CSPRNG unless given; a seeded source in replays). */
  ids?: IdSource;
  /** Driver per host driver kind (`sim` for simulated hosts). Hosts of kind `qemu` are reached through their agent. */
  drivers: Record<string, HypervisorDriver>;
  /** Token the control plane presents to agents. */
  agentToken?: string;
  /** Seconds a simulated host takes to switch on (0: at once). Real hosts are up when their agent reports. */
  simBootS?: number;
}

export class ControlPlane {
  /** What every service shares (store, clock, ids, drivers). */
  readonly ctx: ControlContext;
  constructor(o: ControlPlaneOptions) {
    this.ctx = { ...o, ids: o.ids ?? cryptoIds() };
  }

  get db() {
    return this.ctx.db;
  }
  /** Set the token presented to agents (they accept the operator token they report with). */
  useAgentToken(t: string | undefined): void {
    this.ctx.agentToken = t;
  }
  private now(): string {
    return nowIso(this.ctx);
  }

  // ---- bootstrap and auth ----------------------------------------------------------------------

  /**
   * On first start: an "admin" tenant with an admin user and a token (given, or random). Returns
   * the token when one was created (to be printed once), else null.
   */
  async bootstrap(token?: string): Promise<string | null> {
    const has = await this.db.selectFrom('users').select('id').where('role', '=', 'admin').executeTakeFirst();
    if (has) return null;
    const t = token ?? `nubis_${this.ctx.ids.secret()}`;
    await this.db.transaction().execute(async (trx) => {
      const tid = this.ctx.ids.uuid(),
        uid = this.ctx.ids.uuid(),
        at = this.now();
      await trx
        .insertInto('tenants')
        .values({
          id: tid,
          name: 'admin',
          quota_vcpus: DEFAULT_QUOTAS.vcpus,
          quota_memory_mib: DEFAULT_QUOTAS.memoryMiB,
          quota_vms: DEFAULT_QUOTAS.vms,
          quota_disk_gib: DEFAULT_QUOTAS.diskGiB,
          created_at: at,
        })
        .execute();
      await trx
        .insertInto('users')
        .values({ id: uid, tenant_id: tid, name: 'admin', role: 'admin', created_at: at })
        .execute();
      await trx
        .insertInto('tokens')
        .values({
          id: this.ctx.ids.uuid(),
          user_id: uid,
          name: 'bootstrap',
          hash: hashToken(t),
          expires_at: null,
          revoked_at: null,
          created_at: at,
        })
        .execute();
      await trx
        .insertInto('events')
        .values({
          at,
          tenant_id: tid,
          vm_id: null,
          host_id: null,
          actor: 'system',
          kind: 'bootstrap',
          detail: '{}',
        })
        .execute();
    });
    return t;
  }

  /** The principal behind a bearer token, or null (unknown, revoked or expired). */
  async authenticate(token: string): Promise<Principal | null> {
    const row = await this.db
      .selectFrom('tokens')
      .innerJoin('users', 'users.id', 'tokens.user_id')
      .select([
        'tokens.id as tokenId',
        'tokens.expires_at',
        'tokens.revoked_at',
        'users.id as userId',
        'users.name as userName',
        'users.tenant_id as tenantId',
        'users.role',
      ])
      .where('tokens.hash', '=', hashToken(token))
      .executeTakeFirst();
    if (!row || row.revoked_at || (row.expires_at && row.expires_at <= this.now())) return null;
    return {
      userId: row.userId,
      userName: row.userName,
      tenantId: row.tenantId,
      role: row.role as Role,
      tokenId: row.tokenId,
    };
  }

  private require(p: Principal, ...roles: Role[]): void {
    if (!roles.includes(p.role))
      throw new ControlError('FORBIDDEN', `This needs role ${roles.join(' or ')}; you are ${p.role}`);
  }

  private event(trx: Db, e: EventInput) {
    return recordEvent(this.ctx, trx, e);
  }

  // ---- tenants, users, tokens ------------------------------------------------------------------

  async createTenant(p: Principal, name: string, quotas: Partial<Quotas> = {}) {
    this.require(p, 'admin');
    const q = { ...DEFAULT_QUOTAS, ...quotas };
    const id = this.ctx.ids.uuid();
    await this.unique(
      () =>
        this.db.transaction().execute(async (trx) => {
          await trx
            .insertInto('tenants')
            .values({
              id,
              name,
              quota_vcpus: q.vcpus,
              quota_memory_mib: q.memoryMiB,
              quota_vms: q.vms,
              quota_disk_gib: q.diskGiB,
              created_at: this.now(),
            })
            .execute();
          await this.event(trx, {
            tenantId: id,
            actor: p.userName,
            kind: 'tenant.created',
            detail: { name, quotas: q },
          });
        }),
      `Tenant "${name}" already exists`,
    );
    return { id, name, quotas: q };
  }

  /** Change a tenant's quotas (admin); lowering below current use is allowed and blocks new use. */
  async setQuotas(p: Principal, tenant: string, q: Partial<Quotas>) {
    this.require(p, 'admin');
    const t = await this.tenantByRef(tenant);
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('tenants')
        .set({
          ...(q.vcpus !== undefined ? { quota_vcpus: q.vcpus } : {}),
          ...(q.memoryMiB !== undefined ? { quota_memory_mib: q.memoryMiB } : {}),
          ...(q.vms !== undefined ? { quota_vms: q.vms } : {}),
          ...(q.diskGiB !== undefined ? { quota_disk_gib: q.diskGiB } : {}),
        })
        .where('id', '=', t.id)
        .execute();
      await this.event(trx, { tenantId: t.id, actor: p.userName, kind: 'tenant.quotas', detail: q });
    });
    return (await this.listTenants(p)).find((x) => x.id === t.id);
  }

  async listTenants(p: Principal) {
    this.require(p, 'admin', 'operator');
    const rows = await this.db.selectFrom('tenants').selectAll().orderBy('name').execute();
    return rows.map((t) => ({
      id: t.id,
      name: t.name,
      quotas: {
        vcpus: t.quota_vcpus,
        memoryMiB: t.quota_memory_mib,
        vms: t.quota_vms,
        diskGiB: t.quota_disk_gib,
      },
    }));
  }

  private async tenantByRef(ref: string) {
    const t = await this.db
      .selectFrom('tenants')
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', ref), eb('name', '=', ref)]))
      .executeTakeFirst();
    if (!t) throw new ControlError('NOT_FOUND', `No tenant "${ref}"`);
    return t;
  }

  async createUser(p: Principal, tenant: string, name: string, role: Role) {
    this.require(p, 'admin');
    const t = await this.tenantByRef(tenant);
    const id = this.ctx.ids.uuid();
    await this.unique(
      () =>
        this.db.transaction().execute(async (trx) => {
          await trx
            .insertInto('users')
            .values({ id, tenant_id: t.id, name, role, created_at: this.now() })
            .execute();
          await this.event(trx, {
            tenantId: t.id,
            actor: p.userName,
            kind: 'user.created',
            detail: { name, role },
          });
        }),
      `User "${name}" already exists in tenant "${t.name}"`,
    );
    return { id, tenantId: t.id, name, role };
  }

  /** Create a token for yourself, or (admin) for any user; the token is returned once, stored hashed. */
  async createToken(p: Principal, o: { userId?: string; name: string; expiresInS?: number }) {
    const userId = o.userId ?? p.userId;
    if (userId !== p.userId) this.require(p, 'admin');
    const user = await this.db.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirst();
    if (!user) throw new ControlError('NOT_FOUND', `No user "${userId}"`);
    const token = `nubis_${this.ctx.ids.secret()}`;
    const id = this.ctx.ids.uuid();
    const expires = o.expiresInS
      ? new Date((this.ctx.clock.now() + o.expiresInS) * 1000).toISOString()
      : null;
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('tokens')
        .values({
          id,
          user_id: userId,
          name: o.name,
          hash: hashToken(token),
          expires_at: expires,
          revoked_at: null,
          created_at: this.now(),
        })
        .execute();
      await this.event(trx, {
        tenantId: user.tenant_id,
        actor: p.userName,
        kind: 'token.created',
        detail: { tokenId: id, user: user.name },
      });
    });
    return { id, token, userId, name: o.name, expiresAt: expires };
  }

  async revokeToken(p: Principal, id: string) {
    const t = await this.db
      .selectFrom('tokens')
      .innerJoin('users', 'users.id', 'tokens.user_id')
      .select(['tokens.id', 'tokens.user_id', 'users.tenant_id'])
      .where('tokens.id', '=', id)
      .executeTakeFirst();
    if (!t || (t.user_id !== p.userId && p.role !== 'admin'))
      throw new ControlError('NOT_FOUND', `No token "${id}"`);
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('tokens').set({ revoked_at: this.now() }).where('id', '=', id).execute();
      await this.event(trx, {
        tenantId: t.tenant_id,
        actor: p.userName,
        kind: 'token.revoked',
        detail: { tokenId: id },
      });
    });
  }

  // ---- inventory -------------------------------------------------------------------------------

  async createHost(
    p: Principal,
    h: {
      name: string;
      vcpus: number;
      memoryMiB: number;
      diskGiB: number;
      tier?: string;
      zone?: string;
      cpuRatio?: number;
      memoryRatio?: number;
      diskRatio?: number;
      reservedVcpus?: number;
      reservedMemoryMiB?: number;
      reservedDiskGiB?: number;
      datacenter?: string;
      rack?: string;
      driver?: string;
      agentUrl?: string;
      powerModel?: unknown;
      powerAddress?: string;
    },
  ) {
    this.require(p, 'admin');
    const id = this.ctx.ids.uuid();
    await this.unique(
      () =>
        this.db.transaction().execute(async (trx) => {
          await trx
            .insertInto('hosts')
            .values({
              id,
              name: h.name,
              state: 'up',
              vcpus: h.vcpus,
              memory_mib: h.memoryMiB,
              disk_gib: h.diskGiB,
              cpu_ratio: h.cpuRatio ?? 4,
              memory_ratio: h.memoryRatio ?? 1,
              disk_ratio: h.diskRatio ?? 1,
              reserved_vcpus: h.reservedVcpus ?? 0,
              reserved_memory_mib: h.reservedMemoryMiB ?? 1024,
              reserved_disk_gib: h.reservedDiskGiB ?? 0,
              datacenter: h.datacenter ?? 'dc1',
              rack: h.rack ?? 'r1',
              driver: h.driver ?? 'sim',
              agent_url: h.agentUrl ?? null,
              power_model: JSON.stringify(h.powerModel ?? { type: 'linear', idleW: 100, maxW: 250 }),
              created_at: this.now(),
              last_seen_at: null,
              power_address: h.powerAddress ?? null,
              energy_at: this.now(),
              ...(h.tier ? { tier: h.tier } : {}),
              ...(h.zone ? { zone: h.zone } : {}),
            })
            .execute();
          await this.event(trx, {
            hostId: id,
            actor: p.userName,
            kind: 'host.created',
            detail: { name: h.name },
          });
        }),
      `Host "${h.name}" already exists`,
    );
    return this.getHost(p, id);
  }

  /** VM ids per host, for the members of one server group only (what its rules need). */
  private async groupMembersByHost(db: Db, groupId: string | undefined) {
    const m = new Map<string, string[]>();
    if (!groupId) return m;
    const rows = await db
      .selectFrom('vms')
      .select(['id', 'host_id'])
      .where('server_group_id', '=', groupId)
      .where('deleted_at', 'is', null)
      .execute();
    for (const r of rows) if (r.host_id) m.set(r.host_id, [...(m.get(r.host_id) ?? []), r.id]);
    return m;
  }

  private hostView(
    h: Awaited<ReturnType<ControlPlane['hostRows']>>[number],
    members?: Map<string, string[]>,
  ): HostView {
    return {
      id: h.id,
      name: h.name,
      state: h.state as HostView['state'],
      capacity: { vcpus: h.vcpus, memoryMiB: h.memory_mib, diskGiB: h.disk_gib },
      reserved: { vcpus: h.reserved_vcpus, memoryMiB: h.reserved_memory_mib, diskGiB: h.reserved_disk_gib },
      cpuRatio: h.cpu_ratio,
      memoryRatio: h.memory_ratio,
      diskRatio: h.disk_ratio,
      used: {
        vcpus: Number(h.used_vcpus),
        memoryMiB: Number(h.used_memory_mib),
        diskGiB: Number(h.used_disk_gib),
      },
      vmIds: members?.get(h.id) ?? [],
      tier: h.tier,
      zone: h.zone,
    };
  }

  private hostRows(db: Db = this.db) {
    return db.selectFrom('hosts').selectAll().orderBy('name').execute();
  }

  /** Hosts' static attributes (capacity, ratios, reserved), cached: placement reads only state and counters. */
  private readonly hostStatic = new Map<string, Awaited<ReturnType<ControlPlane['hostRows']>>[number]>();

  /** Host views for placement: a narrow read of what changes, joined with the cached static part. */
  private async placementViews(db: Db, members: Map<string, string[]>): Promise<HostView[]> {
    const live = await db
      .selectFrom('hosts')
      .select(['id', 'state', 'used_vcpus', 'used_memory_mib', 'used_disk_gib'])
      .orderBy('name')
      .execute();
    if (live.some((h) => !this.hostStatic.has(h.id))) {
      this.hostStatic.clear();
      for (const h of await this.hostRows(db)) this.hostStatic.set(h.id, h);
    }
    return live.map((l) => this.hostView({ ...this.hostStatic.get(l.id)!, ...l }, members));
  }

  async listHosts(p: Principal) {
    this.require(p, 'admin', 'operator');
    await this.promoteBooted();
    return (await this.hostRows()).map((h) => this.hostOut(h, this.hostView(h)));
  }

  private hostOut(h: Awaited<ReturnType<ControlPlane['hostRows']>>[number], v: HostView) {
    return {
      id: h.id,
      name: h.name,
      state: h.state,
      datacenter: h.datacenter,
      zone: h.zone,
      rack: h.rack,
      tier: h.tier,
      driver: h.driver,
      lastSeenAt: h.last_seen_at,
      powerAddress: h.power_address,
      ...hostLoad(h),
      capacity: v.capacity,
      reserved: v.reserved,
      overcommit: { cpu: h.cpu_ratio, memory: h.memory_ratio, disk: h.disk_ratio },
      used: v.used,
      vms: Number(h.vm_count),
    };
  }

  async getHost(p: Principal, ref: string) {
    this.require(p, 'admin', 'operator');
    await this.promoteBooted();
    const h = await this.db
      .selectFrom('hosts')
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', ref), eb('name', '=', ref)]))
      .executeTakeFirst();
    if (!h) throw new ControlError('NOT_FOUND', `No host "${ref}"`);
    return { ...this.hostOut(h, this.hostView(h)), cpuSeries: series(h.cpu_history, h.cpu_times) };
  }

  /**
   * The data center at a glance (the dashboard's totals): hosts and VMs by state, power now, energy
   * today (IT and × PUE, as of the last metrics report: the dashboard polls this, so it writes nothing), and the share of hosts that are on whose VMs ask for more CPU than they
   * have. Members get their tenant's VMs and energy only.
   */
  async overview(p: Principal) {
    const all = this.canSeeAll(p);
    const day = this.now().slice(0, 10);
    const count = (rows: { state: string }[]) =>
      rows.reduce<Record<string, number>>((m, r) => {
        m[r.state] = (m[r.state] ?? 0) + 1;
        return m;
      }, {});
    let vq = this.db
      .selectFrom('vms')
      .innerJoin('flavors', 'flavors.id', 'vms.flavor_id')
      .select(['vms.state', 'vms.host_id', 'vms.cpu_history', 'flavors.vcpus'])
      .where('vms.deleted_at', 'is', null);
    if (!all) vq = vq.where('vms.tenant_id', '=', p.tenantId);
    const vms = await vq.execute();
    const pue = await this.pue();
    let eq = this.db
      .selectFrom('energy')
      .select((eb) => eb.fn.sum<number>('joules').as('j'))
      .where('day', '=', day);
    eq = all
      ? eq.where('scope', '=', 'host')
      : eq.where('scope', '=', 'tenant').where('ref', '=', p.tenantId);
    const energyKWh = Number((await eq.executeTakeFirst())?.j ?? 0) / 3.6e6;
    const out = {
      vms: { total: vms.length, byState: count(vms) },
      energyTodayKWh: energyKWh,
      facilityEnergyTodayKWh: energyKWh * pue,
      pue,
    };
    if (!all) return out;
    const hosts = await this.hostRows();
    const demand = new Map<string, number>();
    for (const v of vms)
      if (v.state === 'running' && v.host_id)
        demand.set(
          v.host_id,
          (demand.get(v.host_id) ?? 0) + v.vcpus * ((JSON.parse(v.cpu_history) as number[])[0] ?? 0),
        );
    const on = hosts.filter((h) => h.state === 'up' || h.state === 'maintenance');
    const overloaded = on.filter((h) => (demand.get(h.id) ?? 0) > h.vcpus + 1e-9).length;
    return {
      ...out,
      hosts: { total: hosts.length, byState: count(hosts) },
      powerW: hosts.reduce((a, h) => a + hostLoad(h).powerW, 0),
      overloadedHosts: overloaded,
      slaViolation: on.length ? overloaded / on.length : 0,
    };
  }

  async setHostState(p: Principal, ref: string, state: 'up' | 'maintenance' | 'off' | 'failed') {
    this.require(p, 'admin', 'operator');
    const h = await this.getHost(p, ref);
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('hosts').set({ state }).where('id', '=', h.id).execute();
      await this.event(trx, {
        hostId: h.id,
        actor: p.userName,
        kind: 'host.state',
        detail: { from: h.state, to: state },
      });
    });
    if (state === 'failed' && h.state !== 'failed') await this.evacuate(p, h.id);
    return this.getHost(p, h.id);
  }

  /**
   * A host failed: restart its HA VMs elsewhere, highest priority first (Masakari's instance
   * recovery); its other VMs go to error. Each HA VM is restarted once: its move to the new host is
   * one transaction, so a repeated evacuation finds it gone from the failed host.
   */
  async evacuate(p: Principal, hostId: string) {
    const vms = await this.db
      .selectFrom('vms')
      .innerJoin('flavors', 'flavors.id', 'vms.flavor_id')
      .innerJoin('images', 'images.id', 'vms.image_id')
      .select([
        'vms.id',
        'vms.name',
        'vms.tenant_id',
        'vms.ha',
        'vms.ha_priority',
        'vms.server_group_id',
        'vms.flavor_id',
        'flavors.vcpus',
        'flavors.memory_mib',
        'flavors.disk_gib',
        'flavors.name as flavor',
        'images.name as image',
      ])
      .where('vms.host_id', '=', hostId)
      .where('vms.deleted_at', 'is', null)
      .orderBy('vms.ha_priority', 'desc')
      .orderBy('vms.name')
      .execute();
    const restarted: string[] = [],
      failed: { vm: string; reason: string }[] = [];
    for (const v of vms) {
      if (Number(v.ha) !== 1) {
        await this.db.transaction().execute(async (trx) => {
          await trx
            .updateTable('vms')
            .set({ state: 'error', updated_at: this.now() })
            .where('id', '=', v.id)
            .execute();
          await this.meter(trx, v.id, 'error');
          await this.event(trx, {
            tenantId: v.tenant_id,
            vmId: v.id,
            hostId,
            actor: 'ha',
            kind: 'vm.lost',
            detail: { reason: 'its host failed and it is not HA' },
          });
        });
        continue;
      }
      try {
        let target = '';
        await this.db.transaction().execute(async (trx) => {
          const views = (await this.placementViews(trx, new Map())).filter((h) => h.id !== hostId);
          const d = placeVm(views, {
            flavor: { vcpus: v.vcpus, memoryMiB: v.memory_mib, diskGiB: v.disk_gib },
          });
          if (!d.hostId || !(await this.claimHost(trx, d.hostId, v)))
            throw new ControlError('NO_HOST_FITS', d.explanation);
          target = d.hostId;
          await this.releaseHost(trx, hostId, v);
          await trx
            .updateTable('vms')
            .set({ host_id: target, state: 'building', updated_at: this.now() })
            .where('id', '=', v.id)
            .where('host_id', '=', hostId)
            .execute();
          const failed = await trx
            .selectFrom('hosts')
            .select('name')
            .where('id', '=', hostId)
            .executeTakeFirst();
          await this.event(trx, {
            tenantId: v.tenant_id,
            vmId: v.id,
            hostId: target,
            actor: 'ha',
            kind: 'vm.ha.restarting',
            detail: { from: failed?.name ?? hostId, priority: Number(v.ha_priority), why: d.explanation },
          });
        });
        const host = await this.db
          .selectFrom('hosts')
          .selectAll()
          .where('id', '=', target)
          .executeTakeFirstOrThrow();
        const drv = this.driverFor(host);
        if (!(await drv.get(v.id)))
          await drv.create({
            id: v.id,
            memoryMiB: v.memory_mib,
            vcpus: v.vcpus,
            image: { kernel: `image://${v.image}` },
          });
        const g = await drv.get(v.id);
        if (g && g.state !== 'running') await drv.start(v.id);
        await this.db.transaction().execute(async (trx) => {
          await trx
            .updateTable('vms')
            .set({ state: 'running', updated_at: this.now() })
            .where('id', '=', v.id)
            .execute();
          // Usage moves to the new host (the billing class stays "running").
          await this.restartUsage(trx, v.id, v.tenant_id, target, v.flavor_id);
          await this.event(trx, {
            tenantId: v.tenant_id,
            vmId: v.id,
            hostId: target,
            actor: 'ha',
            kind: 'vm.ha.restarted',
            detail: { on: host.name },
          });
        });
        restarted.push(v.name);
      } catch (e) {
        failed.push({ vm: v.name, reason: (e as Error).message });
        await this.db.transaction().execute(async (trx) =>
          this.event(trx, {
            tenantId: v.tenant_id,
            vmId: v.id,
            hostId,
            actor: 'ha',
            kind: 'vm.ha.failed',
            detail: { reason: (e as Error).message },
          }),
        );
      }
    }
    return { restarted, failed };
  }

  /**
   * Declare hosts whose agent has been silent longer than `failAfterS` failed (and evacuate them).
   * Split brain is avoided by the agent fencing itself (stopping its guests) when it cannot reach the
   * control plane for longer than the same timeout; see docs/operations.md.
   */
  async checkHeartbeats(p: Principal, failAfterS: number): Promise<string[]> {
    const limit = new Date((this.ctx.clock.now() - failAfterS) * 1000).toISOString();
    const stale = await this.db
      .selectFrom('hosts')
      .select(['id', 'name'])
      .where('driver', '=', 'qemu')
      .where('state', 'in', ['up', 'maintenance'])
      .where('last_seen_at', '<', limit)
      .execute();
    for (const h of stale) await this.setHostState(p, h.id, 'failed');
    return stale.map((h) => h.name);
  }

  async createFlavor(p: Principal, f: { name: string; vcpus: number; memoryMiB: number; diskGiB: number }) {
    this.require(p, 'admin');
    const id = this.ctx.ids.uuid();
    await this.unique(
      () =>
        this.db
          .insertInto('flavors')
          .values({
            id,
            name: f.name,
            vcpus: f.vcpus,
            memory_mib: f.memoryMiB,
            disk_gib: f.diskGiB,
            created_at: this.now(),
          })
          .execute(),
      `Flavor "${f.name}" already exists`,
    );
    return { id, ...f };
  }

  async listFlavors() {
    return (
      await this.db.selectFrom('flavors').selectAll().orderBy('vcpus').orderBy('memory_mib').execute()
    ).map((f) => ({ id: f.id, name: f.name, vcpus: f.vcpus, memoryMiB: f.memory_mib, diskGiB: f.disk_gib }));
  }

  async createImage(p: Principal, i: { name: string; format: string; sizeMiB: number }) {
    this.require(p, 'admin');
    const id = this.ctx.ids.uuid();
    await this.unique(
      () =>
        this.db
          .insertInto('images')
          .values({ id, name: i.name, format: i.format, size_mib: i.sizeMiB, created_at: this.now() })
          .execute(),
      `Image "${i.name}" already exists`,
    );
    return { id, ...i };
  }

  async listImages() {
    return (await this.db.selectFrom('images').selectAll().orderBy('name').execute()).map((i) => ({
      id: i.id,
      name: i.name,
      format: i.format,
      sizeMiB: i.size_mib,
    }));
  }

  async createServerGroup(p: Principal, name: string, policy: string) {
    this.require(p, 'admin', 'member');
    const id = this.ctx.ids.uuid();
    await this.unique(
      () =>
        this.db
          .insertInto('server_groups')
          .values({ id, tenant_id: p.tenantId, name, policy, created_at: this.now() })
          .execute(),
      `Server group "${name}" already exists`,
    );
    return { id, name, policy, tenantId: p.tenantId };
  }

  async listServerGroups(p: Principal) {
    const q = this.db.selectFrom('server_groups').selectAll();
    const rows = await (
      p.role === 'admin' || p.role === 'operator' ? q : q.where('tenant_id', '=', p.tenantId)
    )
      .orderBy('name')
      .execute();
    return rows.map((g) => ({ id: g.id, name: g.name, policy: g.policy, tenantId: g.tenant_id }));
  }

  // ---- VMs -------------------------------------------------------------------------------------

  private canSeeAll(p: Principal) {
    return p.role === 'admin' || p.role === 'operator';
  }

  private async vmRow(p: Principal, id: string): Promise<VmRow> {
    const q = this.db.selectFrom('vms').selectAll().where('id', '=', id).where('deleted_at', 'is', null);
    const v = await (this.canSeeAll(p) ? q : q.where('tenant_id', '=', p.tenantId)).executeTakeFirst();
    // Another tenant's VM is "not found", never "forbidden": that would confirm it exists.
    if (!v) throw new ControlError('NOT_FOUND', `No VM "${id}"`);
    return v;
  }

  private async vmOut(v: VmRow): Promise<VmView> {
    const [f, i, h] = await Promise.all([
      this.db.selectFrom('flavors').select('name').where('id', '=', v.flavor_id).executeTakeFirst(),
      this.db.selectFrom('images').select('name').where('id', '=', v.image_id).executeTakeFirst(),
      v.host_id
        ? this.db.selectFrom('hosts').select('name').where('id', '=', v.host_id).executeTakeFirst()
        : undefined,
    ]);
    return this.vmView(v, f?.name, i?.name, h?.name);
  }

  private vmView(
    v: VmRow,
    flavor: string | undefined,
    image: string | undefined,
    host: string | null | undefined,
  ): VmView {
    return {
      ha: Number(v.ha) === 1,
      haPriority: Number(v.ha_priority),
      id: v.id,
      name: v.name,
      tenantId: v.tenant_id,
      state: v.state as VmState,
      flavor: flavor ?? v.flavor_id,
      image: image ?? v.image_id,
      hostId: v.host_id,
      hostName: host ?? null,
      serverGroupId: v.server_group_id,
      createdAt: v.created_at,
      updatedAt: v.updated_at,
      cpu: (JSON.parse(v.cpu_history) as number[])[0] ?? null,
      allowedActions: allowedActions(v.state as VmState),
    };
  }

  async getVm(p: Principal, id: string) {
    const v = await this.vmRow(p, id);
    return { ...(await this.vmOut(v)), cpuSeries: series(v.cpu_history, v.cpu_times) };
  }

  /** VMs with their flavor, image and host names, in one query (it backs lists of 10,000 VMs). */
  async listVms(p: Principal, f: { state?: string; host?: string } = {}) {
    let q = this.db
      .selectFrom('vms')
      .innerJoin('flavors', 'flavors.id', 'vms.flavor_id')
      .innerJoin('images', 'images.id', 'vms.image_id')
      .leftJoin('hosts', 'hosts.id', 'vms.host_id')
      .selectAll('vms')
      .select(['flavors.name as flavor_name', 'images.name as image_name', 'hosts.name as host_name'])
      .where('vms.deleted_at', 'is', null);
    if (!this.canSeeAll(p)) q = q.where('vms.tenant_id', '=', p.tenantId);
    if (f.state) q = q.where('vms.state', '=', f.state);
    if (f.host) q = q.where('vms.host_id', '=', f.host);
    const rows = await q.orderBy('vms.created_at').orderBy('vms.id').execute();
    return rows.map((r) => this.vmView(r, r.flavor_name, r.image_name, r.host_name));
  }

  /** Claim quota for a flavor (conditional update: race-free); QUOTA_EXCEEDED says what is used and left. */
  private async claimQuota(
    trx: Db,
    tenantId: string,
    flavor: { vcpus: number; memory_mib: number; disk_gib: number },
    newVms = 1,
  ) {
    const r = await trx
      .updateTable('tenants')
      .set((eb) => ({
        used_vms: eb('used_vms', '+', newVms),
        used_vcpus: eb('used_vcpus', '+', flavor.vcpus),
        used_memory_mib: eb('used_memory_mib', '+', flavor.memory_mib),
        used_disk_gib: eb('used_disk_gib', '+', flavor.disk_gib),
      }))
      .where('id', '=', tenantId)
      .where((eb) =>
        eb.and([
          eb(eb('used_vms', '+', newVms), '<=', eb.ref('quota_vms')),
          eb(eb('used_vcpus', '+', flavor.vcpus), '<=', eb.ref('quota_vcpus')),
          eb(eb('used_memory_mib', '+', flavor.memory_mib), '<=', eb.ref('quota_memory_mib')),
          eb(eb('used_disk_gib', '+', flavor.disk_gib), '<=', eb.ref('quota_disk_gib')),
        ]),
      )
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 1) return;
    const t = await trx
      .selectFrom('tenants')
      .selectAll()
      .where('id', '=', tenantId)
      .executeTakeFirstOrThrow();
    const used = {
      vms: Number(t.used_vms),
      vcpus: Number(t.used_vcpus),
      memoryMiB: Number(t.used_memory_mib),
      diskGiB: Number(t.used_disk_gib),
    };
    const want = { vms: newVms, vcpus: flavor.vcpus, memoryMiB: flavor.memory_mib, diskGiB: flavor.disk_gib };
    const limit = {
      vms: t.quota_vms,
      vcpus: t.quota_vcpus,
      memoryMiB: t.quota_memory_mib,
      diskGiB: t.quota_disk_gib,
    };
    for (const k of ['vms', 'vcpus', 'memoryMiB', 'diskGiB'] as const) {
      if (used[k] + want[k] > limit[k]) {
        throw new ControlError(
          'QUOTA_EXCEEDED',
          `Quota exceeded for ${k}: used ${used[k]} of ${limit[k]}, requested ${want[k]}, left ${Math.max(0, limit[k] - used[k])}`,
          {
            resource: k,
            used: used[k],
            limit: limit[k],
            requested: want[k],
            left: Math.max(0, limit[k] - used[k]),
          },
        );
      }
    }
    throw new ControlError('QUOTA_EXCEEDED', 'Quota exceeded');
  }

  /** Claim a host's capacity for a flavor (conditional update: two racing requests cannot both take the last room). */
  private async claimHost(
    trx: Db,
    hostId: string,
    f: { vcpus: number; memory_mib: number; disk_gib: number },
    newVms = 1,
  ): Promise<boolean> {
    const r = await trx
      .updateTable('hosts')
      .set((eb) => ({
        used_vcpus: eb('used_vcpus', '+', f.vcpus),
        used_memory_mib: eb('used_memory_mib', '+', f.memory_mib),
        used_disk_gib: eb('used_disk_gib', '+', f.disk_gib),
        vm_count: eb('vm_count', '+', newVms),
      }))
      .where('id', '=', hostId)
      .where('state', '=', 'up')
      .where(
        sql<boolean>`used_vcpus + ${f.vcpus} <= vcpus * cpu_ratio - reserved_vcpus and used_memory_mib + ${f.memory_mib} <= memory_mib * memory_ratio - reserved_memory_mib and used_disk_gib + ${f.disk_gib} <= disk_gib * disk_ratio - reserved_disk_gib`,
      )
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /**
   * Placement found no room: switch on a host that is off and would take the VM (in name order),
   * as consolidation switched it off. Returns whether one was switched on.
   */
  private async powerOnFor(
    trx: Db,
    p: Principal,
    vmName: string,
    f: { vcpus: number; memory_mib: number; disk_gib: number; name: string },
    o: { zone?: string; tier?: string },
  ): Promise<boolean> {
    let q = trx.selectFrom('hosts').selectAll().where('state', '=', 'off').orderBy('name');
    if (o.zone) q = q.where('zone', '=', o.zone);
    if (o.tier) q = q.where('tier', '=', o.tier);
    const h = (await q.execute()).find(
      (x) =>
        x.vcpus * x.cpu_ratio - x.reserved_vcpus - Number(x.used_vcpus) >= f.vcpus &&
        x.memory_mib * x.memory_ratio - x.reserved_memory_mib - Number(x.used_memory_mib) >= f.memory_mib &&
        x.disk_gib * x.disk_ratio - x.reserved_disk_gib - Number(x.used_disk_gib) >= f.disk_gib,
    );
    if (!h) return false;
    const reason = `no host that is on has room for ${vmName} (${f.name})`;
    if (h.driver === 'qemu' || (this.ctx.simBootS ?? 0) > 0) {
      // A host takes time to boot: start it now (it is up when its agent reports, or after the
      // simulated boot time) and refuse this request with when to try again.
      const admin = { ...p, role: 'admin' as const };
      setImmediate(() => {
        this.powerHost(admin, h.id, 'on', { reason }).catch(() => undefined);
      });
      throw new ControlError(
        'NO_HOST_FITS',
        `${reason}; switching ${h.name} on, try again when it is up${h.driver === 'qemu' ? '' : ` (in ${this.ctx.simBootS} s)`}`,
      );
    }
    await trx
      .updateTable('hosts')
      .set({ state: 'up' })
      .where('id', '=', h.id)
      .where('state', '=', 'off')
      .execute();
    await this.event(trx, { hostId: h.id, actor: p.userName, kind: 'host.powered-on', detail: { reason } });
    return true;
  }

  /** Give back one VM's capacity on a host (the inverse of claimHost). */
  private releaseHost(trx: Db, hostId: string, f: { vcpus: number; memory_mib: number; disk_gib: number }) {
    return trx
      .updateTable('hosts')
      .set((eb) => ({
        used_vcpus: eb('used_vcpus', '-', f.vcpus),
        used_memory_mib: eb('used_memory_mib', '-', f.memory_mib),
        used_disk_gib: eb('used_disk_gib', '-', f.disk_gib),
        vm_count: eb('vm_count', '-', 1),
      }))
      .where('id', '=', hostId)
      .execute();
  }

  /** Give back a deleted VM's host capacity and quota. */
  private async release(trx: Db, vmId: string) {
    const v = await trx
      .selectFrom('vms')
      .innerJoin('flavors', 'flavors.id', 'vms.flavor_id')
      .select(['vms.tenant_id', 'vms.host_id', 'flavors.vcpus', 'flavors.memory_mib', 'flavors.disk_gib'])
      .where('vms.id', '=', vmId)
      .executeTakeFirstOrThrow();
    await trx
      .updateTable('tenants')
      .set((eb) => ({
        used_vms: eb('used_vms', '-', 1),
        used_vcpus: eb('used_vcpus', '-', v.vcpus),
        used_memory_mib: eb('used_memory_mib', '-', v.memory_mib),
        used_disk_gib: eb('used_disk_gib', '-', v.disk_gib),
      }))
      .where('id', '=', v.tenant_id)
      .execute();
    if (v.host_id) await this.releaseHost(trx, v.host_id, v);
  }

  /**
   * HA admission control: with `failoverHosts` ≥ 1 (PUT /v1/settings/ha), a new HA VM is admitted only
   * if the HA VMs of any one host could still restart on the others (capacity already claimed).
   */
  private async admitHa(trx: Db, name: string, hostId: string, f: { vcpus: number; memory_mib: number }) {
    const r = await trx
      .selectFrom('settings')
      .select('value')
      .where('key', '=', 'ha-failover-hosts')
      .executeTakeFirst();
    if (!r || Number(r.value) < 1) return;
    const hosts = (await trx.selectFrom('hosts').selectAll().where('state', '=', 'up').execute()).map(
      (h) => ({
        id: h.id,
        name: h.name,
        free: {
          vcpus: h.vcpus * h.cpu_ratio - h.reserved_vcpus - Number(h.used_vcpus),
          memoryMiB: h.memory_mib * h.memory_ratio - h.reserved_memory_mib - Number(h.used_memory_mib),
        },
      }),
    );
    const ha = (
      await trx
        .selectFrom('vms')
        .innerJoin('flavors', 'flavors.id', 'vms.flavor_id')
        .select(['vms.name', 'vms.host_id', 'flavors.vcpus', 'flavors.memory_mib'])
        .where('vms.ha', '=', 1)
        .where('vms.deleted_at', 'is', null)
        .where('vms.host_id', 'is not', null)
        .execute()
    ).map((v) => ({ name: v.name, hostId: v.host_id!, vcpus: v.vcpus, memoryMiB: v.memory_mib }));
    ha.push({ name, hostId, vcpus: f.vcpus, memoryMiB: f.memory_mib });
    const short = failoverShortfall(hosts, ha);
    if (short)
      throw new ControlError(
        'NO_HOST_FITS',
        `HA admission control: with ${name}, if ${short.host} failed its HA VM ${short.vm} could not restart anywhere (failover capacity for 1 host is kept); add capacity or create the VM without ha`,
      );
  }

  async setHaFailoverHosts(p: Principal, failoverHosts: number) {
    this.require(p, 'admin');
    if (!(Number.isInteger(failoverHosts) && failoverHosts >= 0 && failoverHosts <= 1))
      throw new ControlError(
        'BAD_REQUEST',
        `failoverHosts must be 0 (off) or 1 (tolerate one host failure), got ${failoverHosts}`,
      );
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('settings').where('key', '=', 'ha-failover-hosts').execute();
      await trx
        .insertInto('settings')
        .values({ key: 'ha-failover-hosts', value: String(failoverHosts) })
        .execute();
    });
    return { failoverHosts };
  }

  /** Where a VM would go and why (no change). */
  async placement(
    p: Principal,
    o: { flavor: string; serverGroup?: string; preset?: string; zone?: string; tier?: string },
    db: Db = this.db,
  ): Promise<PlacementDecision> {
    const flavor = await db
      .selectFrom('flavors')
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', o.flavor), eb('name', '=', o.flavor)]))
      .executeTakeFirst();
    if (!flavor) throw new ControlError('NOT_FOUND', `No flavor "${o.flavor}"`);
    const group = o.serverGroup ? await this.groupFor(p, o.serverGroup, db) : undefined;
    const byHost = await this.groupMembersByHost(db, group?.id);
    const members = [...byHost.values()].flat();
    return placeVm(
      await this.placementViews(db, byHost),
      {
        flavor: { vcpus: flavor.vcpus, memoryMiB: flavor.memory_mib, diskGiB: flavor.disk_gib },
        group: group ? { id: group.id, policy: group.policy as 'affinity', memberIds: members } : undefined,
        zone: o.zone,
        tier: o.tier,
      },
      o.preset ?? 'pack',
    );
  }

  private async groupFor(p: Principal, ref: string, db: Db = this.db) {
    const g = await db
      .selectFrom('server_groups')
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', ref), eb('name', '=', ref)]))
      .where('tenant_id', '=', p.tenantId)
      .executeTakeFirst();
    if (!g) throw new ControlError('NOT_FOUND', `No server group "${ref}"`);
    return g;
  }

  private async existingOperation(p: Principal, key?: string) {
    if (!key) return undefined;
    const op = await this.db
      .selectFrom('operations')
      .selectAll()
      .where('tenant_id', '=', p.tenantId)
      .where('idempotency_key', '=', key)
      .executeTakeFirst();
    return op ? this.opOut(op) : undefined;
  }

  /**
   * Create a VM: quota, placement and the record in one transaction, then build it on its host.
   * Returns the operation (idempotent under retry with the same key).
   */
  async createVm(
    p: Principal,
    o: {
      name: string;
      flavor: string;
      image: string;
      serverGroup?: string;
      preset?: string;
      zone?: string;
      tier?: string;
      ha?: boolean;
      haPriority?: number;
      idempotencyKey?: string;
    },
  ) {
    this.require(p, 'admin', 'member');
    const again = await this.existingOperation(p, o.idempotencyKey);
    if (again) return again;
    await this.promoteBooted();
    const flavor = await this.db
      .selectFrom('flavors')
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', o.flavor), eb('name', '=', o.flavor)]))
      .executeTakeFirst();
    if (!flavor) throw new ControlError('NOT_FOUND', `No flavor "${o.flavor}"; see GET /v1/flavors`);
    const image = await this.db
      .selectFrom('images')
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', o.image), eb('name', '=', o.image)]))
      .executeTakeFirst();
    if (!image) throw new ControlError('NOT_FOUND', `No image "${o.image}"; see GET /v1/images`);
    const group = o.serverGroup ? await this.groupFor(p, o.serverGroup) : undefined;
    const vmId = this.ctx.ids.uuid(),
      opId = this.ctx.ids.uuid();
    let decision!: PlacementDecision;
    await this.db.transaction().execute(async (trx) => {
      await this.claimQuota(trx, p.tenantId, flavor);
      // Place, then claim the host; if a concurrent request took the room first, place again.
      for (let attempt = 0; ; attempt++) {
        decision = await this.placement(
          p,
          { flavor: flavor.id, serverGroup: group?.id, preset: o.preset, zone: o.zone, tier: o.tier },
          trx,
        );
        if (!decision.hostId && attempt < 3 && (await this.powerOnFor(trx, p, o.name, flavor, o))) continue;
        if (!decision.hostId)
          throw new ControlError('NO_HOST_FITS', decision.explanation, { rejected: decision.rejected });
        if (await this.claimHost(trx, decision.hostId, flavor)) {
          if (o.ha) await this.admitHa(trx, o.name, decision.hostId, flavor);
          break;
        }
        if (attempt >= 5)
          throw new ControlError(
            'NO_HOST_FITS',
            `Hosts kept filling up while placing "${o.name}"; try again`,
          );
      }
      const at = this.now();
      await trx
        .insertInto('vms')
        .values({
          id: vmId,
          tenant_id: p.tenantId,
          name: o.name,
          flavor_id: flavor.id,
          image_id: image.id,
          host_id: decision.hostId,
          server_group_id: group?.id ?? null,
          state: 'building',
          created_at: at,
          updated_at: at,
          deleted_at: null,
          ha: o.ha ? 1 : 0,
          ha_priority: o.haPriority ?? 0,
        })
        .execute();
      await trx
        .insertInto('operations')
        .values({
          id: opId,
          tenant_id: p.tenantId,
          vm_id: vmId,
          kind: 'create',
          status: 'running',
          idempotency_key: o.idempotencyKey ?? null,
          result: null,
          error: null,
          created_at: at,
          finished_at: null,
        })
        .execute();
      await this.event(trx, {
        tenantId: p.tenantId,
        vmId,
        hostId: decision.hostId,
        actor: p.userName,
        kind: 'vm.placed',
        detail: { name: o.name, flavor: flavor.name, image: image.name, why: decision.explanation },
      });
    });
    const host = await this.db
      .selectFrom('hosts')
      .selectAll()
      .where('id', '=', decision.hostId!)
      .executeTakeFirstOrThrow();
    await this.finish(p, opId, vmId, host.id, async () => {
      const d = this.driverFor(host);
      await d.create({
        id: vmId,
        memoryMiB: flavor.memory_mib,
        vcpus: flavor.vcpus,
        image: { kernel: `image://${image.name}` },
      });
      await d.start(vmId);
      return 'running';
    });
    return this.getOperation(p, opId);
  }

  private readonly agents = new Map<string, AgentDriver>();
  /** Drains started by health reports (awaitable by tests and shutdown). */
  readonly draining = new Map<string, Promise<unknown>>();

  /** The driver that runs a host's guests: a local one by kind, or the host's agent. */
  private driverFor(host: { driver: string; agent_url: string | null; name: string }): HypervisorDriver {
    if (host.driver === 'qemu') {
      if (!host.agent_url) throw new ControlError('BACKEND', `Host "${host.name}" has no agent URL`);
      let a = this.agents.get(host.agent_url);
      if (!a) {
        a = new AgentDriver(host.agent_url, this.ctx.agentToken);
        this.agents.set(host.agent_url, a);
      }
      return a;
    }
    const d = this.ctx.drivers[host.driver];
    if (!d) throw new ControlError('BACKEND', `No driver for hosts of kind "${host.driver}"`);
    return d;
  }

  /**
   * An agent's heartbeat: register its host on first contact (driver qemu), refresh it afterwards.
   * A host in maintenance stays in maintenance; a host marked failed comes back up.
   */
  async heartbeat(
    p: Principal,
    b: {
      agentUrl: string;
      hostname: string;
      cpus: number;
      memoryMiB: number;
      accel?: string;
      health?: { status: 'ok' | 'degraded'; reason?: string };
      guests?: { id: string; cpu?: number }[];
    },
  ) {
    this.require(p, 'admin', 'operator');
    const at = this.now();
    const h = await this.db
      .selectFrom('hosts')
      .selectAll()
      .where('agent_url', '=', b.agentUrl)
      .executeTakeFirst();
    if (!h) {
      const id = this.ctx.ids.uuid();
      await this.unique(
        () =>
          this.db.transaction().execute(async (trx) => {
            await trx
              .insertInto('hosts')
              .values({
                id,
                name: b.hostname,
                state: 'up',
                vcpus: b.cpus,
                memory_mib: b.memoryMiB,
                disk_gib: 100,
                cpu_ratio: 4,
                memory_ratio: 1,
                disk_ratio: 1,
                reserved_vcpus: 0,
                reserved_memory_mib: Math.min(1024, Math.floor(b.memoryMiB / 4)),
                reserved_disk_gib: 0,
                datacenter: 'dc1',
                rack: 'r1',
                driver: 'qemu',
                agent_url: b.agentUrl,
                power_model: JSON.stringify({ type: 'linear', idleW: 100, maxW: 250 }),
                created_at: at,
                last_seen_at: at,
                energy_at: at,
                power_address: null,
              })
              .execute();
            await this.event(trx, {
              hostId: id,
              actor: p.userName,
              kind: 'host.registered',
              detail: { name: b.hostname, agentUrl: b.agentUrl, accel: b.accel },
            });
          }),
        `Host "${b.hostname}" already exists with another agent`,
      );
      return { hostId: id, registered: true };
    }
    // A failed host that reports again, or a host switched on that finished booting, is up.
    await this.db
      .updateTable('hosts')
      .set({ last_seen_at: at, ...(h.state === 'failed' || h.state === 'booting' ? { state: 'up' } : {}) })
      .where('id', '=', h.id)
      .execute();
    // Agent-sourced load: the CPU utilization the agent measured for each guest since its last report.
    const samples = (b.guests ?? [])
      .filter((g) => typeof g.cpu === 'number')
      .map((g) => ({ vm: g.id, cpu: g.cpu! }));
    if (samples.length) {
      const mine = new Set(
        (
          await this.db
            .selectFrom('vms')
            .select('id')
            .where('host_id', '=', h.id)
            .where('deleted_at', 'is', null)
            .execute()
        ).map((v) => v.id),
      );
      const known = samples.filter((x) => mine.has(x.vm));
      if (known.length) await this.recordMetrics(p, known);
    }
    // Proactive evacuation: a host that reports itself degraded is drained before it fails.
    if (b.health?.status === 'degraded' && (h.state === 'up' || h.state === 'failed')) {
      await this.db.transaction().execute(async (trx) =>
        this.event(trx, {
          hostId: h.id,
          actor: p.userName,
          kind: 'host.degraded',
          detail: { reason: b.health!.reason ?? 'reported by its agent' },
        }),
      );
      const drained = this.drainHost(p, h.id);
      this.draining.set(h.id, drained);
      drained.catch(() => undefined).finally(() => this.draining.delete(h.id));
      return { hostId: h.id, registered: false, draining: true };
    }
    return { hostId: h.id, registered: false };
  }

  /**
   * Live-migrate a VM to another host (chosen by placement when not given). Capacity is claimed on
   * the target first; on failure the VM stays where it was and the claim is given back.
   */
  async migrateVm(
    p: Principal,
    id: string,
    o: {
      toHost?: string;
      mode?: 'stop-and-copy' | 'precopy' | 'postcopy';
      downtimeTargetMs?: number;
      bandwidthMbps?: number;
      idempotencyKey?: string;
    },
  ) {
    this.require(p, 'admin', 'operator', 'member');
    const again = await this.existingOperation(p, o.idempotencyKey);
    if (again) return again;
    const v = await this.vmRow(p, id);
    if (v.state !== 'running')
      throw new ControlError(
        'INVALID_STATE',
        `Cannot migrate VM "${v.name}" (${v.id}): it is ${v.state}; only running VMs migrate`,
        { state: v.state },
      );
    const flavor = await this.db
      .selectFrom('flavors')
      .selectAll()
      .where('id', '=', v.flavor_id)
      .executeTakeFirstOrThrow();
    const src = await this.db
      .selectFrom('hosts')
      .selectAll()
      .where('id', '=', v.host_id!)
      .executeTakeFirstOrThrow();
    const opId = this.ctx.ids.uuid();
    let dst!: Awaited<ReturnType<ControlPlane['hostRows']>>[number];
    await this.db.transaction().execute(async (trx) => {
      if (o.toHost) {
        const t = await trx
          .selectFrom('hosts')
          .selectAll()
          .where((eb) => eb.or([eb('id', '=', o.toHost!), eb('name', '=', o.toHost!)]))
          .executeTakeFirst();
        if (!t) throw new ControlError('NOT_FOUND', `No host "${o.toHost}"`);
        if (t.id === src.id)
          throw new ControlError('BAD_REQUEST', `VM "${v.name}" already runs on ${t.name}`);
        dst = t;
      } else {
        const views = (await this.placementViews(trx, new Map())).filter((h) => h.id !== src.id);
        const d = placeVm(views, {
          flavor: { vcpus: flavor.vcpus, memoryMiB: flavor.memory_mib, diskGiB: flavor.disk_gib },
        });
        if (!d.hostId) throw new ControlError('NO_HOST_FITS', d.explanation, { rejected: d.rejected });
        dst = await trx.selectFrom('hosts').selectAll().where('id', '=', d.hostId).executeTakeFirstOrThrow();
      }
      if (dst.driver !== src.driver)
        throw new ControlError(
          'BAD_REQUEST',
          `Cannot migrate between a ${src.driver} host and a ${dst.driver} host`,
        );
      if (!(await this.claimHost(trx, dst.id, flavor)))
        throw new ControlError('NO_HOST_FITS', `Host ${dst.name} has no room for ${flavor.name}`);
      await trx
        .updateTable('vms')
        .set({ state: 'migrating', updated_at: this.now() })
        .where('id', '=', v.id)
        .execute();
      await trx
        .insertInto('operations')
        .values({
          id: opId,
          tenant_id: v.tenant_id,
          vm_id: v.id,
          kind: 'migrate',
          status: 'running',
          idempotency_key: o.idempotencyKey ?? null,
          result: null,
          error: null,
          created_at: this.now(),
          finished_at: null,
        })
        .execute();
      await this.event(trx, {
        tenantId: v.tenant_id,
        vmId: v.id,
        hostId: src.id,
        actor: p.userName,
        kind: 'vm.migrate.requested',
        detail: {
          from: src.name,
          to: dst.name,
          mode: o.mode ?? (o.downtimeTargetMs ? 'planned' : 'precopy'),
        },
      });
    });
    let report: Record<string, unknown> = {};
    try {
      if (src.driver === 'qemu') {
        const a = this.driverFor(src) as AgentDriver;
        const body = o.downtimeTargetMs
          ? { plan: { downtimeTargetMs: o.downtimeTargetMs, bandwidthMbps: o.bandwidthMbps ?? 1000 } }
          : {
              options: {
                mode: o.mode ?? 'precopy',
                ...(o.bandwidthMbps ? { bandwidthMbps: o.bandwidthMbps } : {}),
              },
            };
        report = await a.migrate(v.id, dst.agent_url!, { ...body, destinationToken: this.ctx.agentToken });
      } else {
        // Simulated hosts move at once; the report carries what the live-migration models predict
        // for this VM (its memory, a dirty rate that follows its CPU), so timelines show durations.
        const cpu = (JSON.parse(v.cpu_history) as number[])[0] ?? ASSUMED_VM_UTILIZATION;
        const m = predictMigration(
          {
            memMiB: flavor.memory_mib,
            dirtyMiBps: cpu * DEFAULT_LOAD_OPTIONS.maxDirtyMiBps,
            bandwidthMbps: o.bandwidthMbps ?? 1000,
          },
          {
            mode:
              o.mode === 'postcopy' ? 'postcopy' : o.mode === 'stop-and-copy' ? 'stop-and-copy' : 'precopy',
          },
        );
        report = {
          status: 'completed',
          modeUsed: 'simulated',
          modeled: true,
          totalMs: Math.round(m.totalMs),
          downtimeMs: Math.round(m.downtimeMs),
          bytes: Math.round(m.bytes),
        };
      }
      await this.db.transaction().execute(async (trx) => {
        await this.releaseHost(trx, src.id, flavor);
        await trx
          .updateTable('vms')
          .set({ state: 'running', host_id: dst.id, updated_at: this.now() })
          .where('id', '=', v.id)
          .execute();
        await this.restartUsage(trx, v.id, v.tenant_id, dst.id, v.flavor_id);
        await trx
          .updateTable('operations')
          .set({ status: 'succeeded', finished_at: this.now(), result: JSON.stringify(report) })
          .where('id', '=', opId)
          .execute();
        await this.event(trx, {
          tenantId: v.tenant_id,
          vmId: v.id,
          hostId: dst.id,
          actor: p.userName,
          kind: 'vm.migrated',
          detail: { from: src.name, to: dst.name, ...report },
        });
      });
    } catch (e) {
      await this.db.transaction().execute(async (trx) => {
        await this.releaseHost(trx, dst.id, flavor);
        await trx
          .updateTable('vms')
          .set({ state: 'running', updated_at: this.now() })
          .where('id', '=', v.id)
          .execute();
        await trx
          .updateTable('operations')
          .set({ status: 'failed', finished_at: this.now(), error: (e as Error).message })
          .where('id', '=', opId)
          .execute();
        await this.event(trx, {
          tenantId: v.tenant_id,
          vmId: v.id,
          hostId: src.id,
          actor: p.userName,
          kind: 'vm.migrate.failed',
          detail: { error: (e as Error).message },
        });
      });
    }
    return this.getOperation(p, opId);
  }

  /** Run the hypervisor side of an operation and record its outcome (the VM goes to error if it fails). */
  private async finish(
    p: Principal,
    opId: string,
    vmId: string,
    hostId: string | null,
    work: () => Promise<VmState | null>,
  ) {
    try {
      const to = await work();
      await this.db.transaction().execute(async (trx) => {
        if (to) {
          await trx
            .updateTable('vms')
            .set({
              state: to,
              updated_at: this.now(),
              ...(to === 'deleted' ? { deleted_at: this.now() } : {}),
            })
            .where('id', '=', vmId)
            .execute();
          await this.meter(trx, vmId, to);
          if (to === 'deleted') await this.release(trx, vmId);
        }
        await trx
          .updateTable('operations')
          .set({ status: 'succeeded', finished_at: this.now(), result: JSON.stringify({ state: to }) })
          .where('id', '=', opId)
          .execute();
        await this.event(trx, {
          tenantId: p.tenantId,
          vmId,
          hostId,
          actor: p.userName,
          kind: `vm.${to ?? 'updated'}`,
        });
      });
    } catch (e) {
      await this.db.transaction().execute(async (trx) => {
        await trx
          .updateTable('vms')
          .set({ state: 'error', updated_at: this.now() })
          .where('id', '=', vmId)
          .execute();
        await this.meter(trx, vmId, 'error');
        await trx
          .updateTable('operations')
          .set({ status: 'failed', finished_at: this.now(), error: (e as Error).message })
          .where('id', '=', opId)
          .execute();
        await this.event(trx, {
          tenantId: p.tenantId,
          vmId,
          hostId,
          actor: p.userName,
          kind: 'vm.error',
          detail: { error: (e as Error).message },
        });
      });
    }
  }

  /** Run a lifecycle action; an action the state does not allow is INVALID_STATE naming the state. */
  async vmAction(
    p: Principal,
    id: string,
    action: VmAction,
    o: { idempotencyKey?: string; snapshotName?: string; flavor?: string; name?: string } = {},
  ) {
    this.require(p, 'admin', 'member');
    const again = await this.existingOperation(p, o.idempotencyKey);
    if (again) return again;
    const v = await this.vmRow(p, id);
    if (action === 'clone') {
      if (!(VM_ACTIONS.clone.from as readonly string[]).includes(v.state))
        throw new ControlError('INVALID_STATE', `Cannot clone VM "${v.name}" (${v.id}): it is ${v.state}`, {
          state: v.state,
        });
      // A clone is a new VM of the same flavor and image (and server group), placed and charged like any create.
      return this.createVm(p, {
        name: o.name ?? `${v.name}-clone`,
        flavor: v.flavor_id,
        image: v.image_id,
        serverGroup: v.server_group_id ?? undefined,
        idempotencyKey: o.idempotencyKey,
      });
    }
    if (action === 'resize') return this.resizeVm(p, v, o.flavor, o.idempotencyKey);
    if (action === 'restore' && !o.snapshotName)
      throw new ControlError('BAD_REQUEST', 'restore needs snapshotName');
    const t = VM_ACTIONS[action];
    if (!(t.from as readonly string[]).includes(v.state)) {
      throw new ControlError(
        'INVALID_STATE',
        `Cannot ${action} VM "${v.name}" (${v.id}): it is ${v.state}; allowed now: ${allowedActions(v.state as VmState).join(', ') || 'nothing'}`,
        { state: v.state },
      );
    }
    const opId = this.ctx.ids.uuid();
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('operations')
        .values({
          id: opId,
          tenant_id: v.tenant_id,
          vm_id: v.id,
          kind: action,
          status: 'running',
          idempotency_key: o.idempotencyKey ?? null,
          result: null,
          error: null,
          created_at: this.now(),
          finished_at: null,
        })
        .execute();
      await this.event(trx, {
        tenantId: v.tenant_id,
        vmId: v.id,
        hostId: v.host_id,
        actor: p.userName,
        kind: `vm.${action}.requested`,
      });
    });
    const host = v.host_id
      ? await this.db.selectFrom('hosts').selectAll().where('id', '=', v.host_id).executeTakeFirst()
      : undefined;
    await this.finish(p, opId, v.id, v.host_id, async () => {
      const d = host ? this.driverFor(host) : undefined;
      const exists = d ? await d.get(v.id) : undefined;
      switch (action) {
        case 'start':
          await d?.start(v.id);
          break;
        case 'stop':
          if (exists?.state === 'running' || exists?.state === 'paused') await d!.stop(v.id);
          break;
        case 'reboot':
          await d?.reboot(v.id);
          break;
        case 'suspend':
          await d?.pause(v.id);
          break;
        case 'resume':
          await d?.resume(v.id);
          break;
        case 'snapshot':
          await d?.snapshot(v.id, o.snapshotName ?? `snap-${Math.round(this.ctx.clock.now())}`);
          break;
        case 'restore':
          await d?.restore(v.id, o.snapshotName!);
          break;
        case 'delete':
          if (exists) await d!.delete(v.id);
          break;
      }
      return t.to;
    });
    return this.getOperation(p, opId);
  }

  /**
   * Cold resize (vertical): a stopped VM gets another flavor on its host if the difference fits
   * there; otherwise it is refused (migrate it first). Quota and host counters move by the difference.
   */
  private async resizeVm(p: Principal, v: VmRow, flavorRef: string | undefined, idempotencyKey?: string) {
    if (!flavorRef) throw new ControlError('BAD_REQUEST', 'resize needs flavor');
    if (v.state === 'running') return this.resizeRunning(p, v, flavorRef, idempotencyKey);
    if (v.state !== 'stopped')
      throw new ControlError(
        'INVALID_STATE',
        `Cannot resize VM "${v.name}" (${v.id}): it is ${v.state}; only running (live or with a restart) and stopped VMs resize`,
        { state: v.state },
      );
    const [from, to] = await Promise.all([
      this.db.selectFrom('flavors').selectAll().where('id', '=', v.flavor_id).executeTakeFirstOrThrow(),
      this.db
        .selectFrom('flavors')
        .selectAll()
        .where((eb) => eb.or([eb('id', '=', flavorRef), eb('name', '=', flavorRef)]))
        .executeTakeFirst(),
    ]);
    if (!to) throw new ControlError('NOT_FOUND', `No flavor "${flavorRef}"`);
    const delta = {
      vcpus: to.vcpus - from.vcpus,
      memory_mib: to.memory_mib - from.memory_mib,
      disk_gib: to.disk_gib - from.disk_gib,
    };
    const opId = this.ctx.ids.uuid();
    await this.db.transaction().execute(async (trx) => {
      // Claim the difference (a negative difference always fits).
      const grow = {
        vcpus: Math.max(0, delta.vcpus),
        memory_mib: Math.max(0, delta.memory_mib),
        disk_gib: Math.max(0, delta.disk_gib),
      };
      await this.claimQuota(trx, v.tenant_id, grow, 0);
      await trx
        .updateTable('tenants')
        .set((eb) => ({
          used_vcpus: eb('used_vcpus', '+', delta.vcpus - grow.vcpus),
          used_memory_mib: eb('used_memory_mib', '+', delta.memory_mib - grow.memory_mib),
          used_disk_gib: eb('used_disk_gib', '+', delta.disk_gib - grow.disk_gib),
        }))
        .where('id', '=', v.tenant_id)
        .execute();
      if (v.host_id) {
        const ok = await this.claimHost(trx, v.host_id, grow, 0);
        if (!ok) {
          const h = await trx
            .selectFrom('hosts')
            .select('name')
            .where('id', '=', v.host_id)
            .executeTakeFirstOrThrow();
          throw new ControlError(
            'NO_HOST_FITS',
            `Flavor ${to.name} does not fit on ${h.name} next to its other VMs; migrate the VM first`,
          );
        }
        await trx
          .updateTable('hosts')
          .set((eb) => ({
            used_vcpus: eb('used_vcpus', '+', delta.vcpus - grow.vcpus),
            used_memory_mib: eb('used_memory_mib', '+', delta.memory_mib - grow.memory_mib),
            used_disk_gib: eb('used_disk_gib', '+', delta.disk_gib - grow.disk_gib),
          }))
          .where('id', '=', v.host_id)
          .execute();
      }
      await trx
        .updateTable('vms')
        .set({ flavor_id: to.id, updated_at: this.now() })
        .where('id', '=', v.id)
        .execute();
      await trx
        .insertInto('operations')
        .values({
          id: opId,
          tenant_id: v.tenant_id,
          vm_id: v.id,
          kind: 'resize',
          status: 'succeeded',
          idempotency_key: idempotencyKey ?? null,
          result: JSON.stringify({ from: from.name, to: to.name }),
          error: null,
          created_at: this.now(),
          finished_at: this.now(),
        })
        .execute();
      await this.event(trx, {
        tenantId: v.tenant_id,
        vmId: v.id,
        hostId: v.host_id,
        actor: p.userName,
        kind: 'vm.resized',
        detail: { from: from.name, to: to.name },
      });
    });
    // The hypervisor's definition follows: re-create the (stopped) guest with the new size.
    const host = v.host_id
      ? await this.db.selectFrom('hosts').selectAll().where('id', '=', v.host_id).executeTakeFirst()
      : undefined;
    if (host) {
      const d = this.driverFor(host);
      const g = await d.get(v.id);
      if (g) {
        await d.delete(v.id);
        await d.create({ ...g.spec, memoryMiB: to.memory_mib, vcpus: to.vcpus });
      }
    }
    return this.getOperation(p, opId);
  }

  /**
   * Resize a running VM. Live when the driver allows it: same vCPUs and memory within what the guest
   * booted with (the balloon gives and takes it back, as oVirt's memory hot-unplug / balloon resize).
   * Otherwise with a restart (stop, redefine, start). If the new size does not fit on its host,
   * placement picks another: a live resize migrates there first, a restart starts it there.
   */
  private async resizeRunning(p: Principal, v: VmRow, flavorRef: string, idempotencyKey?: string) {
    const [from, to] = await Promise.all([
      this.db.selectFrom('flavors').selectAll().where('id', '=', v.flavor_id).executeTakeFirstOrThrow(),
      this.db
        .selectFrom('flavors')
        .selectAll()
        .where((eb) => eb.or([eb('id', '=', flavorRef), eb('name', '=', flavorRef)]))
        .executeTakeFirst(),
    ]);
    if (!to) throw new ControlError('NOT_FOUND', `No flavor "${flavorRef}"`);
    if (to.id === from.id)
      throw new ControlError('BAD_REQUEST', `VM "${v.name}" already has flavor ${to.name}`);
    let host = await this.db
      .selectFrom('hosts')
      .selectAll()
      .where('id', '=', v.host_id!)
      .executeTakeFirstOrThrow();
    const guest = await this.driverFor(host).get(v.id);
    const bootMiB = guest?.spec.memoryMiB ?? from.memory_mib;
    const live = to.vcpus === from.vcpus && to.memory_mib <= bootMiB;
    const delta = {
      vcpus: to.vcpus - from.vcpus,
      memory_mib: to.memory_mib - from.memory_mib,
      disk_gib: to.disk_gib - from.disk_gib,
    };
    const grow = {
      vcpus: Math.max(0, delta.vcpus),
      memory_mib: Math.max(0, delta.memory_mib),
      disk_gib: Math.max(0, delta.disk_gib),
    };
    const free = (h: typeof host) =>
      h.vcpus * h.cpu_ratio - h.reserved_vcpus - Number(h.used_vcpus) >= grow.vcpus &&
      h.memory_mib * h.memory_ratio - h.reserved_memory_mib - Number(h.used_memory_mib) >= grow.memory_mib &&
      h.disk_gib * h.disk_ratio - h.reserved_disk_gib - Number(h.used_disk_gib) >= grow.disk_gib;
    let moved: string | null = null;
    if (!free(host)) {
      // Re-placement: where the new size fits.
      const views = (await this.placementViews(this.db, new Map())).filter((h) => h.id !== host.id);
      const d = placeVm(views, {
        flavor: { vcpus: to.vcpus, memoryMiB: to.memory_mib, diskGiB: to.disk_gib },
      });
      if (!d.hostId)
        throw new ControlError(
          'NO_HOST_FITS',
          `Flavor ${to.name} does not fit on ${host.name} and no other host takes it: ${d.explanation}`,
          { rejected: d.rejected },
        );
      const target = await this.db
        .selectFrom('hosts')
        .selectAll()
        .where('id', '=', d.hostId)
        .executeTakeFirstOrThrow();
      if (live) {
        const op = await this.migrateVm(p, v.id, { toHost: target.id });
        if (op.status !== 'succeeded')
          throw new ControlError(
            'BACKEND',
            `Resize needs ${v.name} on ${target.name}, but the migration failed: ${op.error}; it still runs on ${host.name} with ${from.name}`,
          );
      } else {
        await this.driverFor(host)
          .stop(v.id, { force: true })
          .catch(() => undefined);
        await this.driverFor(host)
          .delete(v.id)
          .catch(() => undefined);
        await this.db.transaction().execute(async (trx) => {
          if (!(await this.claimHost(trx, target.id, from)))
            throw new ControlError('NO_HOST_FITS', `Host ${target.name} filled up meanwhile`);
          await this.releaseHost(trx, host.id, from);
          await trx
            .updateTable('vms')
            .set({ host_id: target.id, updated_at: this.now() })
            .where('id', '=', v.id)
            .execute();
        });
      }
      moved = target.name;
      host = target;
    }
    const opId = this.ctx.ids.uuid();
    await this.db.transaction().execute(async (trx) => {
      await this.claimQuota(trx, v.tenant_id, grow, 0);
      await trx
        .updateTable('tenants')
        .set((eb) => ({
          used_vcpus: eb('used_vcpus', '+', delta.vcpus - grow.vcpus),
          used_memory_mib: eb('used_memory_mib', '+', delta.memory_mib - grow.memory_mib),
          used_disk_gib: eb('used_disk_gib', '+', delta.disk_gib - grow.disk_gib),
        }))
        .where('id', '=', v.tenant_id)
        .execute();
      if (!(await this.claimHost(trx, host.id, grow, 0)))
        throw new ControlError('NO_HOST_FITS', `Flavor ${to.name} no longer fits on ${host.name}; try again`);
      await trx
        .updateTable('hosts')
        .set((eb) => ({
          used_vcpus: eb('used_vcpus', '+', delta.vcpus - grow.vcpus),
          used_memory_mib: eb('used_memory_mib', '+', delta.memory_mib - grow.memory_mib),
          used_disk_gib: eb('used_disk_gib', '+', delta.disk_gib - grow.disk_gib),
        }))
        .where('id', '=', host.id)
        .execute();
      await trx
        .updateTable('vms')
        .set({ flavor_id: to.id, updated_at: this.now() })
        .where('id', '=', v.id)
        .execute();
      await this.restartUsage(trx, v.id, v.tenant_id, host.id, to.id);
      await trx
        .insertInto('operations')
        .values({
          id: opId,
          tenant_id: v.tenant_id,
          vm_id: v.id,
          kind: 'resize',
          status: 'running',
          idempotency_key: idempotencyKey ?? null,
          result: null,
          error: null,
          created_at: this.now(),
          finished_at: null,
        })
        .execute();
    });
    await this.finish(p, opId, v.id, host.id, async () => {
      const d = this.driverFor(host);
      if (live) await d.setBalloon(v.id, to.memory_mib);
      else {
        const g = await d.get(v.id);
        if (g) {
          if (g.state === 'running' || g.state === 'paused') await d.stop(v.id, { force: true });
          await d.delete(v.id);
        }
        await d.create({
          ...(g?.spec ?? guest?.spec ?? { id: v.id, image: { kernel: 'image://tiny' } }),
          id: v.id,
          memoryMiB: to.memory_mib,
          vcpus: to.vcpus,
        });
        await d.start(v.id);
      }
      await this.db.transaction().execute(async (trx) =>
        this.event(trx, {
          tenantId: v.tenant_id,
          vmId: v.id,
          hostId: host.id,
          actor: p.userName,
          kind: 'vm.resized',
          detail: {
            from: from.name,
            to: to.name,
            how: live ? 'live (balloon)' : 'restart',
            ...(moved ? { movedTo: moved } : {}),
          },
        }),
      );
      return 'running';
    });
    const op = await this.getOperation(p, opId);
    return {
      ...op,
      result: {
        ...(op.result ?? {}),
        from: from.name,
        to: to.name,
        how: live ? 'live' : 'restart',
        movedTo: moved,
      },
    };
  }

  private opOut(o: {
    id: string;
    tenant_id: string;
    vm_id: string | null;
    kind: string;
    status: string;
    result: string | null;
    error: string | null;
    created_at: string;
    finished_at: string | null;
  }) {
    return {
      id: o.id,
      tenantId: o.tenant_id,
      vmId: o.vm_id,
      kind: o.kind,
      status: o.status,
      result: o.result ? JSON.parse(o.result) : null,
      error: o.error,
      createdAt: o.created_at,
      finishedAt: o.finished_at,
    };
  }

  async getOperation(p: Principal, id: string) {
    const q = this.db.selectFrom('operations').selectAll().where('id', '=', id);
    const o = await (this.canSeeAll(p) ? q : q.where('tenant_id', '=', p.tenantId)).executeTakeFirst();
    if (!o) throw new ControlError('NOT_FOUND', `No operation "${id}"`);
    return this.opOut(o);
  }

  /** Events, newest first; `after` gives those after an event id, oldest first (for followers). */
  async listEvents(p: Principal, f: { vmId?: string; hostId?: string; after?: number; limit?: number } = {}) {
    let q = this.db.selectFrom('events').selectAll();
    if (!this.canSeeAll(p)) q = q.where('tenant_id', '=', p.tenantId);
    if (f.vmId) q = q.where('vm_id', '=', f.vmId);
    if (f.hostId) q = q.where('host_id', '=', f.hostId);
    if (f.after !== undefined) q = q.where('id', '>', f.after);
    const rows = await q
      .orderBy('id', f.after !== undefined ? 'asc' : 'desc')
      .limit(Math.min(f.limit ?? 100, 10000))
      .execute();
    return rows.map((e) => ({
      id: Number(e.id),
      at: e.at,
      tenantId: e.tenant_id,
      vmId: e.vm_id,
      hostId: e.host_id,
      actor: e.actor,
      kind: e.kind,
      detail: JSON.parse(e.detail),
    }));
  }

  /** Counts for /metrics. */
  async metricsSnapshot() {
    const hosts = await this.db
      .selectFrom('hosts')
      .select(['state', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('state')
      .execute();
    const vms = await this.db
      .selectFrom('vms')
      .select(['state', (eb) => eb.fn.countAll<number>().as('n')])
      .where('deleted_at', 'is', null)
      .groupBy('state')
      .execute();
    const placements = await this.db
      .selectFrom('events')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('kind', '=', 'vm.placed')
      .executeTakeFirstOrThrow();
    // The same figure as the dashboard's "power now": every host's power model at its measured load.
    const powerW = (await this.hostRows()).reduce((a, h) => a + hostLoad(h).powerW, 0);
    return {
      hostsByState: Object.fromEntries(hosts.map((h) => [h.state, Number(h.n)])),
      vmsByState: Object.fromEntries(vms.map((v) => [v.state, Number(v.n)])),
      placements: Number(placements.n),
      powerW,
    };
  }

  // ---- consolidation plans ---------------------------------------------------------------------

  /** The live cluster as the plan code sees it (one zone, or all), with CPU histories. */
  private async planCluster(zone?: string): Promise<LoadCluster> {
    let hq = this.db.selectFrom('hosts').selectAll().orderBy('name');
    if (zone) hq = hq.where('zone', '=', zone);
    const hosts = await hq.execute();
    const ids = new Set(hosts.map((h) => h.id));
    const vms = (
      await this.db
        .selectFrom('vms')
        .innerJoin('flavors', 'flavors.id', 'vms.flavor_id')
        .select([
          'vms.id',
          'vms.name',
          'vms.host_id',
          'vms.cpu_history',
          'flavors.vcpus',
          'flavors.memory_mib',
        ])
        .where('vms.deleted_at', 'is', null)
        .where('vms.host_id', 'is not', null)
        .orderBy('vms.name')
        .execute()
    ).filter((v) => ids.has(v.host_id!));
    const last = await this.db
      .selectFrom('events')
      .select(['vm_id', (eb) => eb.fn.max('at').as('at')])
      .where('kind', '=', 'vm.migrated')
      .groupBy('vm_id')
      .execute();
    const lastAt = new Map(last.map((r) => [r.vm_id, Date.parse(String(r.at))]));
    const nowMs = this.ctx.clock.now() * 1000;
    // How long each empty host has been empty: since its last VM's usage ended there.
    const lastUse = await this.db
      .selectFrom('usage')
      .select(['host_id', (eb) => eb.fn.max('end_at').as('end')])
      .where('host_id', 'in', hosts.length ? hosts.map((h) => h.id) : [''])
      .groupBy('host_id')
      .execute();
    const lastEnd = new Map(lastUse.map((r) => [r.host_id, r.end ? Date.parse(String(r.end)) : NaN]));
    return {
      hosts: hosts.map((h) => {
        const power = parsePower(h.power_model);
        const emptyForS =
          Number(h.vm_count) > 0
            ? 0
            : lastEnd.has(h.id) && !Number.isNaN(lastEnd.get(h.id)!)
              ? (nowMs - lastEnd.get(h.id)!) / 1000
              : Infinity;
        return {
          id: h.id,
          name: h.name,
          state: h.state as PlanHost['state'],
          capacity: {
            vcpus: h.vcpus * h.cpu_ratio - h.reserved_vcpus,
            memoryMiB: h.memory_mib * h.memory_ratio - h.reserved_memory_mib,
          },
          idleW: power.type === 'specpower' ? power.wattsAt[0]! : power.idleW,
          cpus: h.vcpus,
          power,
          bandwidthMbps: 1000,
          emptyForS,
        };
      }),
      vms: vms.map((v) => ({
        id: v.id,
        name: v.name,
        hostId: v.host_id!,
        vcpus: v.vcpus,
        memoryMiB: v.memory_mib,
        sinceMigrationS: lastAt.has(v.id) ? (nowMs - lastAt.get(v.id)!) / 1000 : Infinity,
        history: JSON.parse(v.cpu_history) as number[],
      })),
    };
  }

  private planOut(r: {
    id: string;
    status: string;
    created_at: string;
    created_by: string;
    summary: string;
    actions: string;
    result: string | null;
    finished_at: string | null;
    zone: string | null;
  }) {
    return {
      id: r.id,
      status: r.status,
      zone: r.zone,
      createdAt: r.created_at,
      createdBy: r.created_by,
      summary: r.summary,
      actions: JSON.parse(r.actions) as PlanAction[],
      result: r.result ? JSON.parse(r.result) : null,
      finishedAt: r.finished_at,
    };
  }

  /**
   * Audit the live state and propose a plan (nothing changes until it is applied): the reservation
   * packer (`policy: "reservation"`, flavor sizes), or any load-aware preset of the simulator
   * (`lr-mmt:1.2`, `thr-mmt:0.8`, ...) on the measured CPU histories, or moves an operator asks for
   * (ordered so that every intermediate state fits, cycles routed through a free host).
   */
  async auditPlan(
    p: Principal,
    o: Partial<ConsolidationPlanOptions> & {
      policy?: string;
      zone?: string;
      moves?: { vm: string; to: string }[];
      actor?: string;
      keepEmpty?: boolean;
    } = {},
  ) {
    this.require(p, 'admin', 'operator');
    await this.promoteBooted();
    const settings = await this.automationSettings(o.zone);
    const options = {
      ...DEFAULT_PLAN_OPTIONS,
      ...(settings.spareHosts !== undefined ? { spareHosts: settings.spareHosts } : {}),
      ...(settings.powerOffGraceS !== undefined ? { powerOffGraceS: settings.powerOffGraceS } : {}),
      ...stripUndefined(o),
    };
    const cluster = await this.planCluster(o.zone);
    let plan: Plan;
    if (o.moves) {
      const byRef = (ref: string) => cluster.vms.find((v) => v.id === ref || v.name === ref);
      const hostRef = (ref: string) => cluster.hosts.find((h) => h.id === ref || h.name === ref);
      const moves = o.moves.map((m) => {
        const v = byRef(m.vm),
          h = hostRef(m.to);
        if (!v)
          throw new ControlError('NOT_FOUND', `No placed VM "${m.vm}"${o.zone ? ` in zone ${o.zone}` : ''}`);
        if (!h) throw new ControlError('NOT_FOUND', `No host "${m.to}"${o.zone ? ` in zone ${o.zone}` : ''}`);
        return { vmId: v.id, to: h.id };
      });
      try {
        plan = summarize(orderMoves(cluster, moves, options));
      } catch (e) {
        throw new ControlError('BAD_REQUEST', `Cannot order these moves: ${(e as Error).message}`);
      }
    } else {
      const policy = o.policy ?? settings.policy ?? 'reservation';
      const spread = /^spread(?::([0-9.]+))?$/.exec(policy);
      if (policy === 'reservation') plan = planConsolidation(cluster, options);
      else if (spread) {
        const gap = spread[1] === undefined ? 0.3 : Number(spread[1]);
        if (!(gap > 0 && gap < 1))
          throw new ControlError('BAD_REQUEST', `spread:GAP needs a gap in (0, 1), got "${spread[1]}"`);
        plan = planSpread(cluster, {
          gap,
          holdDownS: options.holdDownS,
          bandwidthMbps: options.bandwidthMbps,
        });
      } else {
        let spec;
        try {
          spec = parsePolicy(policy);
        } catch (e) {
          throw new ControlError(
            'BAD_REQUEST',
            `${(e as PolicySpecError).message}, or reservation, or spread[:GAP]`,
          );
        }
        if (spec.type !== 'migration')
          throw new ControlError(
            'BAD_REQUEST',
            `Policy "${policy}" plans no migrations; use a DETECTOR-SELECTION preset (e.g. lr-mmt:1.2) or reservation`,
          );
        // Seeded from the clock: the same state at the same time gives the same plan (RS selection).
        plan = planLoadAware(
          cluster,
          { ...options, ...DEFAULT_LOAD_OPTIONS, policy: spec },
          seededRandom(Math.floor(this.ctx.clock.now())),
        );
      }
    }
    const id = this.ctx.ids.uuid();
    // Periodic audits keep no record of plans with nothing to do (one every few minutes otherwise).
    if (!plan.actions.length && o.keepEmpty === false)
      return {
        id: null,
        status: 'empty',
        zone: o.zone ?? null,
        createdAt: this.now(),
        createdBy: o.actor ?? p.userName,
        summary: plan.summary,
        actions: [],
        result: null,
        finishedAt: null,
      };
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('plans')
        .values({
          id,
          status: plan.actions.length ? 'proposed' : 'empty',
          zone: o.zone ?? null,
          created_at: this.now(),
          created_by: o.actor ?? p.userName,
          summary: plan.summary,
          actions: JSON.stringify(plan.actions),
          result: null,
          finished_at: null,
        })
        .execute();
      await this.event(trx, {
        actor: o.actor ?? p.userName,
        kind: 'plan.proposed',
        detail: { planId: id, zone: o.zone ?? null, summary: plan.summary },
      });
    });
    return this.getPlan(p, id);
  }

  async listPlans(p: Principal) {
    this.require(p, 'admin', 'operator');
    return (
      await this.db.selectFrom('plans').selectAll().orderBy('created_at', 'desc').limit(100).execute()
    ).map((r) => this.planOut(r));
  }

  async getPlan(p: Principal, id: string) {
    this.require(p, 'admin', 'operator');
    const r = await this.db.selectFrom('plans').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) throw new ControlError('NOT_FOUND', `No plan "${id}"`);
    return this.planOut(r);
  }

  async discardPlan(p: Principal, id: string) {
    const plan = await this.getPlan(p, id);
    if (plan.status !== 'proposed' && plan.status !== 'waiting')
      throw new ControlError(
        'INVALID_STATE',
        `Plan ${id} is ${plan.status}; only a proposed (or waiting) plan can be discarded`,
        { state: plan.status },
      );
    await this.db
      .updateTable('plans')
      .set({ status: 'discarded', finished_at: this.now() })
      .where('id', '=', id)
      .execute();
    return this.getPlan(p, id);
  }

  /**
   * Apply a proposed plan: re-check it against the live state first, then run it in waves (the
   * migrations of a wave at once, within the per-host and per-cluster limits, every host within
   * capacity at every moment), re-checking the rest of the plan before each wave. A host the plan
   * switches on takes time to boot: the plan then waits (status `waiting`) and resumes when the host
   * is up (the next automation round, or applying it again). A failed action stops the plan after
   * its wave (a failed migration leaves its VM where it was); nothing is half-applied silently: the
   * result says which actions ran, which failed and which were cancelled.
   */
  async applyPlan(p: Principal, id: string, o: { actor?: string; limits?: Partial<ConcurrencyLimits> } = {}) {
    await this.promoteBooted();
    const plan = await this.getPlan(p, id);
    const actor = o.actor ?? p.userName;
    const resuming = plan.status === 'waiting';
    if (plan.status !== 'proposed' && !resuming)
      throw new ControlError(
        'INVALID_STATE',
        `Plan ${id} is ${plan.status}; only a proposed (or waiting) plan can be applied`,
        { state: plan.status },
      );
    const start = resuming ? Number(plan.result?.done ?? 0) : 0;
    if (resuming) {
      const waitingFor = (plan.result?.waitingFor ?? []) as string[];
      const still = waitingFor.length
        ? await this.db
            .selectFrom('hosts')
            .select('name')
            .where('id', 'in', waitingFor)
            .where('state', '=', 'booting')
            .execute()
        : [];
      if (still.length) return plan;
    }
    const actions = plan.actions.slice(start);
    const asPlan = (a: PlanAction[]): Plan => ({
      actions: a,
      summary: plan.summary,
      gainWatts: 0,
      costTimeS: 0,
      costDataMiB: 0,
    });
    const zone = plan.zone ?? undefined;
    const violations = checkPlan(await this.planCluster(zone), asPlan(actions)).map((v) => ({
      ...v,
      action: v.action + start,
    }));
    if (violations.length) {
      await this.db
        .updateTable('plans')
        .set({
          status: 'stale',
          finished_at: this.now(),
          result: JSON.stringify({ done: start, violations }),
        })
        .where('id', '=', id)
        .execute();
      throw new ControlError(
        'INVALID_STATE',
        `Plan ${id} no longer fits the live state (audit again): ${violations.map((v) => `action ${v.action + 1}: ${v.reason}`).join('; ')}`,
        { violations },
      );
    }
    const s = await this.automationSettings(zone);
    const limits = {
      perHost: o.limits?.perHost ?? s.maxMigrationsPerHost ?? DEFAULT_CONCURRENCY.perHost,
      perCluster: o.limits?.perCluster ?? s.maxMigrationsPerCluster ?? DEFAULT_CONCURRENCY.perCluster,
    };
    await this.db.updateTable('plans').set({ status: 'applying' }).where('id', '=', id).execute();
    const waves = scheduleWaves(await this.planCluster(zone), asPlan(actions), limits);
    let done = start;
    let failure: { action: number; error: string } | undefined;
    const booting: { id: string; name: string }[] = [];
    for (const [w, wave] of waves.entries()) {
      // Re-check what is left against the live state: something may have changed since the last wave.
      const late = checkPlan(await this.planCluster(zone), asPlan(actions.slice(wave[0])));
      if (late.length) {
        failure = {
          action: start + wave[0]! + late[0]!.action,
          error: `the live state changed: ${late[0]!.reason}`,
        };
        break;
      }
      const outcomes = await Promise.all(
        wave.map(async (i) => {
          const a = actions[i]!;
          try {
            if (a.type === 'migrate') {
              const op = await this.migrateVm(p, a.vmId, { toHost: a.to });
              if (op.status !== 'succeeded') throw new Error(op.error ?? 'migration failed');
            } else {
              const r = await this.powerHost(p, a.hostId, a.type === 'power-on' ? 'on' : 'off', {
                reason: `plan ${id}: ${a.reason}`,
                actor,
              });
              if (r.state === 'booting') booting.push({ id: a.hostId, name: a.hostName });
            }
            return { i, error: undefined };
          } catch (e) {
            return { i, error: (e as Error).message };
          }
        }),
      );
      done += outcomes.filter((r) => !r.error).length;
      const bad = outcomes.find((r) => r.error);
      if (bad) {
        failure = { action: start + bad.i, error: bad.error! };
        break;
      }
      // Hosts switching on: start every power-on of the plan first (their boots overlap), then wait.
      if (
        booting.length &&
        w < waves.length - 1 &&
        !waves[w + 1]!.every((i) => actions[i]!.type === 'power-on')
      )
        break;
      if (w < waves.length - 1)
        await this.db
          .updateTable('plans')
          .set({
            result: JSON.stringify({ done, of: plan.actions.length, wave: w + 1, waves: waves.length }),
          })
          .where('id', '=', id)
          .execute();
    }
    if (!failure && booting.length && done < plan.actions.length) {
      const result = {
        done,
        of: plan.actions.length,
        waitingFor: booting.map((b) => b.id),
        waitingForNames: booting.map((b) => b.name),
        limits,
      };
      await this.db.transaction().execute(async (trx) => {
        await trx
          .updateTable('plans')
          .set({ status: 'waiting', result: JSON.stringify(result) })
          .where('id', '=', id)
          .execute();
        await this.event(trx, {
          actor,
          kind: 'plan.waiting',
          detail: { planId: id, done, for: booting.map((b) => b.name).join(', ') },
        });
      });
      return this.getPlan(p, id);
    }
    const status = failure ? 'failed' : 'applied';
    const result = {
      done,
      failed: failure ?? null,
      cancelled: plan.actions.length - done - (failure ? 1 : 0),
      waves: waves.length,
      limits,
    };
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('plans')
        .set({ status, finished_at: this.now(), result: JSON.stringify(result) })
        .where('id', '=', id)
        .execute();
      await this.event(trx, { actor, kind: `plan.${status}`, detail: { planId: id, ...result } });
    });
    return this.getPlan(p, id);
  }

  /**
   * Drain a host for maintenance: stop placing on it, live-migrate every VM elsewhere (placement
   * decides where, constraints respected), then mark it in maintenance. A VM that cannot move is
   * reported; the host stays in maintenance so nothing new lands there.
   */
  async drainHost(p: Principal, ref: string) {
    this.require(p, 'admin', 'operator');
    const h = await this.getHost(p, ref);
    await this.setHostState(p, h.id, 'maintenance');
    const vms = await this.db
      .selectFrom('vms')
      .select(['id', 'name', 'state'])
      .where('host_id', '=', h.id)
      .where('deleted_at', 'is', null)
      .orderBy('name')
      .execute();
    const moved: string[] = [];
    const stuck: { vm: string; reason: string }[] = [];
    for (const v of vms) {
      if (v.state !== 'running') {
        stuck.push({ vm: v.name, reason: `it is ${v.state}; only running VMs migrate` });
        continue;
      }
      try {
        const op = await this.migrateVm(p, v.id, {});
        if (op.status === 'succeeded') moved.push(v.name);
        else stuck.push({ vm: v.name, reason: op.error ?? 'migration failed' });
      } catch (e) {
        stuck.push({ vm: v.name, reason: (e as Error).message });
      }
    }
    await this.db.transaction().execute(async (trx) =>
      this.event(trx, {
        hostId: h.id,
        actor: p.userName,
        kind: stuck.length ? 'host.drain.incomplete' : 'host.drained',
        detail: { moved, stuck },
      }),
    );
    return { host: h.name, state: 'maintenance', moved, stuck };
  }

  // ---- autoscaling groups ----------------------------------------------------------------------

  private groupOut(
    g: {
      id: string;
      tenant_id: string;
      name: string;
      min: number;
      max: number;
      desired: number;
      policy: string;
      scale_in: string;
      last_scaled_at: string | null;
      server_group_id: string;
    },
    members: string[],
  ) {
    return {
      id: g.id,
      tenantId: g.tenant_id,
      name: g.name,
      min: g.min,
      max: g.max,
      desired: g.desired,
      policy: JSON.parse(g.policy) as ScalingPolicy,
      scaleIn: g.scale_in,
      lastScaledAt: g.last_scaled_at,
      serverGroupId: g.server_group_id,
      members,
    };
  }

  async getScalingGroup(p: Principal, ref: string) {
    const g = await this.db
      .selectFrom('scaling_groups')
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', ref), eb('name', '=', ref)]))
      .where('tenant_id', '=', p.tenantId)
      .executeTakeFirst();
    if (!g) throw new ControlError('NOT_FOUND', `No scaling group "${ref}"`);
    const members = await this.db
      .selectFrom('vms')
      .select('id')
      .where('scaling_group_id', '=', g.id)
      .where('deleted_at', 'is', null)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return this.groupOut(
      g,
      members.map((m) => m.id),
    );
  }

  /**
   * An autoscaling group: min/max/desired members of one flavor and image, kept apart by a
   * soft-anti-affinity server group, scaled by a policy on a metric.
   */
  async createScalingGroup(
    p: Principal,
    o: {
      name: string;
      flavor: string;
      image: string;
      min: number;
      max: number;
      desired?: number;
      policy: ScalingPolicy;
      scaleIn?: 'newest' | 'least-loaded';
    },
  ) {
    this.require(p, 'admin', 'member');
    if (!(o.min >= 0 && o.min <= o.max))
      throw new ControlError('BAD_REQUEST', `min (${o.min}) must be between 0 and max (${o.max})`);
    if (!(o.policy.scaleInBelow < o.policy.scaleOutAbove))
      throw new ControlError(
        'BAD_REQUEST',
        `policy.scaleInBelow (${o.policy.scaleInBelow}) must be below policy.scaleOutAbove (${o.policy.scaleOutAbove})`,
      );
    const desired = Math.max(o.min, Math.min(o.max, o.desired ?? o.min));
    const sg = await this.createServerGroup(p, `asg-${o.name}`, 'soft-anti-affinity');
    const flavor = await this.db
      .selectFrom('flavors')
      .select('id')
      .where((eb) => eb.or([eb('id', '=', o.flavor), eb('name', '=', o.flavor)]))
      .executeTakeFirst();
    const image = await this.db
      .selectFrom('images')
      .select('id')
      .where((eb) => eb.or([eb('id', '=', o.image), eb('name', '=', o.image)]))
      .executeTakeFirst();
    if (!flavor) throw new ControlError('NOT_FOUND', `No flavor "${o.flavor}"`);
    if (!image) throw new ControlError('NOT_FOUND', `No image "${o.image}"`);
    const id = this.ctx.ids.uuid();
    await this.unique(
      () =>
        this.db
          .insertInto('scaling_groups')
          .values({
            id,
            tenant_id: p.tenantId,
            name: o.name,
            flavor_id: flavor.id,
            image_id: image.id,
            server_group_id: sg.id,
            min: o.min,
            max: o.max,
            desired,
            policy: JSON.stringify(o.policy),
            scale_in: o.scaleIn ?? 'newest',
            last_scaled_at: null,
            created_at: this.now(),
          })
          .execute(),
      `Scaling group "${o.name}" already exists`,
    );
    await this.reconcileGroup(p, id);
    return this.getScalingGroup(p, id);
  }

  /** Create or remove members until the group has `desired` of them. */
  private async reconcileGroup(p: Principal, id: string, loads: Record<string, number> = {}) {
    const g = await this.db
      .selectFrom('scaling_groups')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    const members = await this.db
      .selectFrom('vms')
      .select(['id', 'created_at'])
      .where('scaling_group_id', '=', id)
      .where('deleted_at', 'is', null)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    for (let n = members.length; n < g.desired; n++) {
      const op = await this.createVm(p, {
        name: `${g.name}-${this.ctx.ids.uuid().slice(0, 6)}`,
        flavor: g.flavor_id,
        image: g.image_id,
        serverGroup: g.server_group_id,
      });
      if (op.vmId)
        await this.db.updateTable('vms').set({ scaling_group_id: id }).where('id', '=', op.vmId).execute();
    }
    if (members.length > g.desired) {
      // Scale in: the newest members, or the least loaded ones (by the loads reported with the metric).
      const order =
        g.scale_in === 'least-loaded'
          ? members.slice().sort((a, b) => (loads[a.id] ?? Infinity) - (loads[b.id] ?? Infinity))
          : members.slice().reverse();
      for (const m of order.slice(0, members.length - g.desired)) await this.vmAction(p, m.id, 'delete');
    }
  }

  /** Report the group's metric (and optionally per-member loads); scale by the policy. */
  async reportGroupMetric(p: Principal, ref: string, value: number, loads: Record<string, number> = {}) {
    const g = await this.getScalingGroup(p, ref);
    const since = g.lastScaledAt ? this.ctx.clock.now() - Date.parse(g.lastScaledAt) / 1000 : Infinity;
    const d = scalingDecision(
      { min: g.min, max: g.max, desired: g.desired, secondsSinceLastScale: since },
      g.policy,
      value,
    );
    if (d.desired !== g.desired) {
      await this.db.transaction().execute(async (trx) => {
        await trx
          .updateTable('scaling_groups')
          .set({ desired: d.desired, last_scaled_at: this.now() })
          .where('id', '=', g.id)
          .execute();
        await this.event(trx, {
          tenantId: g.tenantId,
          actor: p.userName,
          kind: 'group.scaled',
          detail: { group: g.name, from: g.desired, to: d.desired, why: d.reason },
        });
      });
      await this.reconcileGroup(p, g.id, loads);
    }
    return { ...(await this.getScalingGroup(p, g.id)), decision: d.reason };
  }

  // ---- automation ------------------------------------------------------------------------------

  /**
   * Automation settings of a zone (each zone is a cluster), falling back to the data center's:
   * level manual (plans only on request), partial (audits propose, people approve), full (audits
   * apply); the audit policy; spare hosts; migration concurrency limits.
   */
  async automationSettings(zone?: string): Promise<AutomationSettings> {
    const rows = await this.db
      .selectFrom('settings')
      .selectAll()
      .where('key', 'in', zone ? ['automation', `automation:${zone}`] : ['automation'])
      .execute();
    const parse = (v: string | undefined): Partial<AutomationSettings> =>
      v === undefined ? {} : v.startsWith('{') ? JSON.parse(v) : { level: v as AutomationLevel };
    const global = parse(rows.find((r) => r.key === 'automation')?.value);
    const own = zone ? parse(rows.find((r) => r.key === `automation:${zone}`)?.value) : {};
    return { level: 'manual', ...global, ...own };
  }

  /** Every zone's settings (admins and operators). */
  async listAutomation(p: Principal) {
    this.require(p, 'admin', 'operator');
    const zones = (await this.db.selectFrom('hosts').select('zone').distinct().orderBy('zone').execute()).map(
      (z) => z.zone,
    );
    return {
      automation: (await this.automationSettings()).level,
      global: await this.automationSettings(),
      zones: Object.fromEntries(
        await Promise.all(zones.map(async (z) => [z, await this.automationSettings(z)] as const)),
      ),
    };
  }

  async setAutomation(
    p: Principal,
    level: AutomationLevel,
    o: Partial<Omit<AutomationSettings, 'level'>> & { zone?: string } = {},
  ) {
    this.require(p, 'admin');
    if (o.policy && o.policy !== 'reservation' && !/^spread(:0?\.[0-9]+)?$/.test(o.policy)) {
      try {
        if (parsePolicy(o.policy).type !== 'migration')
          throw new PolicySpecError(`Policy "${o.policy}" plans no migrations`);
      } catch (e) {
        throw new ControlError(
          'BAD_REQUEST',
          `${(e as Error).message}; accepted: reservation, spread[:GAP] or a DETECTOR-SELECTION preset such as lr-mmt:1.2`,
        );
      }
    }
    const key = o.zone ? `automation:${o.zone}` : 'automation';
    const before = await this.automationSettings(o.zone);
    const { zone, ...rest } = o;
    const value: AutomationSettings = { ...before, ...stripUndefined(rest), level };
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('settings').where('key', '=', key).execute();
      await trx
        .insertInto('settings')
        .values({ key, value: JSON.stringify(zone ? { level, ...stripUndefined(rest) } : value) })
        .execute();
      await this.event(trx, {
        actor: p.userName,
        kind: 'automation.changed',
        detail: { zone: zone ?? null, from: before.level, to: level, ...stripUndefined(rest) },
      });
    });
    return { automation: level, zone: zone ?? null, settings: await this.automationSettings(zone) };
  }

  /**
   * One periodic round, per zone: in partial mode propose a plan (unless one already waits for
   * approval there); in full mode propose and apply it. Returns the plans made.
   */
  async automationRound(p: Principal) {
    await this.integrateEnergy();
    await this.scaleOnCpu(p);
    const zones = (await this.db.selectFrom('hosts').select('zone').distinct().orderBy('zone').execute()).map(
      (z) => z.zone,
    );
    const out = [];
    // Plans waiting for hosts to switch on go on first (whatever the level: someone approved them).
    for (const w of await this.db
      .selectFrom('plans')
      .select('id')
      .where('status', '=', 'waiting')
      .orderBy('created_at')
      .execute()) {
      const r = await this.applyPlan(p, w.id, { actor: 'automation' }).catch(() => null);
      if (r && r.status !== 'waiting') out.push(r);
    }
    for (const zone of zones) {
      const s = await this.automationSettings(zone);
      if (s.level === 'manual') continue;
      if (
        await this.db
          .selectFrom('plans')
          .select('id')
          .where('status', '=', 'waiting')
          .where('zone', '=', zone)
          .executeTakeFirst()
      )
        continue;
      const waiting = await this.db
        .selectFrom('plans')
        .select('id')
        .where('status', '=', 'proposed')
        .where('zone', '=', zone)
        .executeTakeFirst();
      if (s.level === 'partial' && waiting) continue;
      // Hosts emptied by automation are switched off only after a grace period (10 min unless set).
      const plan = await this.auditPlan(p, {
        zone,
        actor: 'automation',
        keepEmpty: false,
        powerOffGraceS: s.powerOffGraceS ?? 600,
      });
      if (plan.status === 'empty') continue;
      out.push(s.level !== 'full' ? plan : await this.applyPlan(p, plan.id!, { actor: 'automation' }));
    }
    return out;
  }

  /** Autoscaling groups on `metric: cpu`: scale on the members' mean measured CPU utilization (percent). */
  private async scaleOnCpu(p: Principal) {
    const groups = await this.db.selectFrom('scaling_groups').selectAll().orderBy('name').execute();
    for (const g of groups) {
      if ((JSON.parse(g.policy) as ScalingPolicy).metric !== 'cpu') continue;
      const members = await this.db
        .selectFrom('vms')
        .select(['id', 'cpu_history'])
        .where('scaling_group_id', '=', g.id)
        .where('deleted_at', 'is', null)
        .where('state', '=', 'running')
        .execute();
      const loads = members
        .map((m) => [m.id, (JSON.parse(m.cpu_history) as number[])[0]] as const)
        .filter((x): x is readonly [string, number] => x[1] !== undefined);
      if (!loads.length) continue;
      const mean = (loads.reduce((a, x) => a + x[1], 0) / loads.length) * 100;
      await this.reportGroupMetric(
        { ...p, tenantId: g.tenant_id, role: 'admin', userName: 'autoscaling' },
        g.id,
        mean,
        Object.fromEntries(loads),
      );
    }
  }

  // ---- metrics, energy and power --------------------------------------------------------------

  /**
   * Record measured CPU utilization of VMs (from agents' heartbeats, or a monitoring system for
   * simulated hosts): it feeds the load-aware audits, the energy accounting and the plots.
   */
  async recordMetrics(p: Principal, samples: { vm: string; cpu: number }[]) {
    this.require(p, 'admin', 'operator');
    await this.integrateEnergy();
    const unknown: string[] = [];
    await this.db.transaction().execute(async (trx) => {
      const vms = await trx
        .selectFrom('vms')
        .select(['id', 'name', 'cpu_history', 'cpu_times'])
        .where('deleted_at', 'is', null)
        .execute();
      const t = Math.round(this.ctx.clock.now());
      const changedTimes = new Map<string, string>();
      const byRef = new Map<string, (typeof vms)[number]>();
      for (const v of vms) {
        byRef.set(v.name, v);
        byRef.set(v.id, v);
      }
      const changed = new Map<string, string>();
      for (const x of samples) {
        const v = byRef.get(x.vm);
        if (!v) {
          unknown.push(x.vm);
          continue;
        }
        const h = [Math.min(1, Math.max(0, x.cpu)), ...(JSON.parse(v.cpu_history) as number[])].slice(
          0,
          LOAD_HISTORY,
        );
        v.cpu_history = JSON.stringify(h);
        changed.set(v.id, v.cpu_history);
        changedTimes.set(
          v.id,
          JSON.stringify([t, ...(JSON.parse(v.cpu_times) as number[])].slice(0, LOAD_HISTORY)),
        );
      }
      await bulkSet(trx, 'vms', 'cpu_history', changed);
      await bulkSet(trx, 'vms', 'cpu_times', changedTimes);
      // Host utilization follows from its VMs' (for the plots and the energy).
      const rows = await trx
        .selectFrom('hosts')
        .leftJoin('vms', (j) =>
          j
            .onRef('vms.host_id', '=', 'hosts.id')
            .on('vms.deleted_at', 'is', null)
            .on('vms.state', '=', 'running'),
        )
        .leftJoin('flavors', 'flavors.id', 'vms.flavor_id')
        .select([
          'hosts.id',
          'hosts.vcpus as cpus',
          'hosts.state',
          'hosts.cpu_history as host_history',
          'hosts.cpu_times as host_times',
          'vms.cpu_history',
          'flavors.vcpus',
        ])
        .execute();
      const util = new Map<
        string,
        { cpus: number; demand: number; history: string; times: string; state: string }
      >();
      for (const r of rows) {
        const u = util.get(r.id) ?? {
          cpus: r.cpus,
          demand: 0,
          history: r.host_history,
          times: r.host_times,
          state: r.state,
        };
        if (r.cpu_history && r.vcpus) u.demand += r.vcpus * ((JSON.parse(r.cpu_history) as number[])[0] ?? 0);
        util.set(r.id, u);
      }
      const hostHistories = new Map<string, string>(),
        hostTimes = new Map<string, string>();
      for (const [id, u] of util) {
        const sample = u.state === 'up' || u.state === 'maintenance' ? Math.min(1, u.demand / u.cpus) : 0;
        hostHistories.set(
          id,
          JSON.stringify([sample, ...(JSON.parse(u.history) as number[])].slice(0, HOST_HISTORY)),
        );
        hostTimes.set(id, JSON.stringify([t, ...(JSON.parse(u.times) as number[])].slice(0, HOST_HISTORY)));
      }
      await bulkSet(trx, 'hosts', 'cpu_history', hostHistories);
      await bulkSet(trx, 'hosts', 'cpu_times', hostTimes);
    });
    return { recorded: samples.length - unknown.length, unknown };
  }

  /**
   * Integrate every host's power since the last integration (power models at the measured
   * utilization; nothing when off or failed) into energy per host, zone and tenant (a VM's share of
   * its host: idle power by vCPUs, the rest by CPU demand). Called on every metrics report, audit,
   * power change and report, so the integral has no gaps.
   */
  async integrateEnergy(): Promise<void> {
    const now = this.ctx.clock.now();
    const at = this.now(),
      day = at.slice(0, 10);
    const hosts = await this.db
      .selectFrom('hosts')
      .select(['id', 'zone', 'state', 'vcpus', 'power_model', 'energy_at', 'boot_until'])
      .execute();
    const vms = await this.db
      .selectFrom('vms')
      .innerJoin('flavors', 'flavors.id', 'vms.flavor_id')
      .select(['vms.host_id', 'vms.tenant_id', 'vms.cpu_history', 'flavors.vcpus'])
      .where('vms.deleted_at', 'is', null)
      .where('vms.state', 'in', ['running', 'migrating', 'resizing'])
      .execute();
    const on = new Map<string, { tenant: string; vcpus: number; cpu: number }[]>();
    for (const v of vms)
      if (v.host_id) {
        let l = on.get(v.host_id);
        if (!l) on.set(v.host_id, (l = []));
        l.push({
          tenant: v.tenant_id,
          vcpus: v.vcpus,
          cpu: (JSON.parse(v.cpu_history) as number[])[0] ?? ASSUMED_VM_UTILIZATION,
        });
      }
    const add = new Map<string, number>();
    const bump = (scope: string, ref: string, j: number) => {
      const k = `${scope}\u0000${ref}`;
      add.set(k, (add.get(k) ?? 0) + j);
    };
    for (const h of hosts) {
      const from = h.energy_at ? Date.parse(h.energy_at) / 1000 : now;
      let dt = now - from;
      if (dt <= 0) continue;
      if (h.state === 'booting') {
        // Switching on draws peak power (the simulator's transition model) until the host is up.
        const until = h.boot_until ? Math.min(now, Date.parse(h.boot_until) / 1000) : now;
        const j = maxPowerW(parsePower(h.power_model)) * Math.max(0, until - from);
        bump('host', h.id, j);
        bump('zone', h.zone, j);
        dt = now - Math.max(from, until);
        if (dt <= 0) continue;
      } else if (h.state !== 'up' && h.state !== 'maintenance') continue;
      const share = attributeHostPower(parsePower(h.power_model), h.vcpus, on.get(h.id) ?? []);
      bump('host', h.id, share.totalW * dt);
      bump('zone', h.zone, share.totalW * dt);
      for (const [tenant, w] of share.byOwner) bump('tenant', tenant, w * dt);
    }
    await this.db.transaction().execute(async (trx) => {
      for (const [k, j] of add) {
        const [scope, ref] = k.split('\u0000') as [string, string];
        await trx
          .insertInto('energy')
          .values({ scope, ref, day, joules: j })
          .onConflict((oc) =>
            oc
              .columns(['scope', 'ref', 'day'])
              .doUpdateSet((eb) => ({ joules: eb('energy.joules', '+', eb.ref('excluded.joules')) })),
          )
          .execute();
      }
      await trx.updateTable('hosts').set({ energy_at: at }).execute();
    });
    await this.promoteBooted();
  }

  /** Simulated hosts whose boot time has passed are up (evaluated lazily against the clock, so replays are deterministic). */
  async promoteBooted(): Promise<void> {
    const now = this.now();
    const ready = await this.db
      .selectFrom('hosts')
      .select(['id', 'name', 'boot_until'])
      .where('state', '=', 'booting')
      .where('boot_until', 'is not', null)
      .where('boot_until', '<=', now)
      .orderBy('name')
      .execute();
    for (const h of ready) {
      await this.db.transaction().execute(async (trx) => {
        await trx
          .updateTable('hosts')
          .set({ state: 'up', boot_until: null })
          .where('id', '=', h.id)
          .where('state', '=', 'booting')
          .execute();
        await this.event(trx, {
          hostId: h.id,
          actor: 'system',
          kind: 'host.up',
          detail: { booted: h.boot_until },
        });
      });
    }
  }

  /** Energy in [from, to] (whole UTC days) by host, zone or tenant; IT energy and facility energy (× PUE). */
  async energyReport(p: Principal, o: { from: string; to: string; by: 'host' | 'zone' | 'tenant' }) {
    const from = o.from.slice(0, 10),
      to = o.to.slice(0, 10);
    if (!(from <= to) || Number.isNaN(Date.parse(from)) || Number.isNaN(Date.parse(to)))
      throw new ControlError(
        'BAD_REQUEST',
        `from (${o.from}) and to (${o.to}) must be dates with from <= to`,
      );
    if (!this.canSeeAll(p) && o.by !== 'tenant')
      throw new ControlError(
        'FORBIDDEN',
        `Energy by ${o.by} is for operators; members see their tenant's (by=tenant)`,
      );
    await this.integrateEnergy();
    let q = this.db
      .selectFrom('energy')
      .select(['ref', (eb) => eb.fn.sum<number>('joules').as('j')])
      .where('scope', '=', o.by)
      .where('day', '>=', from)
      .where('day', '<=', to)
      .groupBy('ref')
      .orderBy('ref');
    if (!this.canSeeAll(p)) q = q.where('ref', '=', p.tenantId);
    const rows = await q.execute();
    const pue = await this.pue();
    const names =
      o.by === 'host'
        ? new Map(
            (await this.db.selectFrom('hosts').select(['id', 'name']).execute()).map((h) => [h.id, h.name]),
          )
        : o.by === 'tenant'
          ? new Map(
              (await this.db.selectFrom('tenants').select(['id', 'name']).execute()).map((t) => [
                t.id,
                t.name,
              ]),
            )
          : new Map<string, string>();
    const out = rows.map((r) => {
      const it = Number(r.j) / 3.6e6;
      return { ref: r.ref, name: names.get(r.ref) ?? r.ref, itKWh: it, facilityKWh: it * pue };
    });
    return {
      by: o.by,
      from,
      to,
      pue,
      rows: out,
      totals: {
        itKWh: out.reduce((s, r) => s + r.itKWh, 0),
        facilityKWh: out.reduce((s, r) => s + r.facilityKWh, 0),
      },
    };
  }

  async pue(): Promise<number> {
    const r = await this.db
      .selectFrom('settings')
      .select('value')
      .where('key', '=', 'pue')
      .executeTakeFirst();
    return r ? Number(r.value) : 1;
  }

  async setPue(p: Principal, pue: number) {
    this.require(p, 'admin');
    if (!(pue >= 1 && pue <= 5))
      throw new ControlError('BAD_REQUEST', `PUE must be between 1 and 5, got ${pue}`);
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('settings').where('key', '=', 'pue').execute();
      await trx
        .insertInto('settings')
        .values({ key: 'pue', value: String(pue) })
        .execute();
    });
    return { pue };
  }

  /**
   * Switch a host on or off. Off: the host must be empty; a real host's agent runs its
   * power-control command (then the host stops reporting). On: a switched-off real host cannot run
   * anything, so another agent that is up runs the command for it (IPMI, Wake-on-LAN) and the host
   * is "booting" until its agent reports; simulated hosts switch at once.
   */
  async powerHost(
    p: Principal,
    ref: string,
    action: 'on' | 'off',
    o: { reason?: string; actor?: string } = {},
  ) {
    this.require(p, 'admin', 'operator');
    const h = await this.getHost(p, ref);
    const row = await this.db
      .selectFrom('hosts')
      .selectAll()
      .where('id', '=', h.id)
      .executeTakeFirstOrThrow();
    await this.integrateEnergy();
    let result: unknown = null;
    if (action === 'off') {
      if (row.state === 'off') return { host: h.name, state: 'off', result };
      if (Number(row.vm_count) > 0)
        throw new ControlError(
          'INVALID_STATE',
          `Cannot switch ${h.name} off: ${row.vm_count} VM(s) still on it; drain it first`,
        );
      if (row.driver === 'qemu')
        result = await (this.driverFor(row) as AgentDriver).power({
          action: 'off',
          host: row.name,
          address: row.power_address ?? undefined,
        });
    } else {
      if (row.state !== 'off')
        throw new ControlError('INVALID_STATE', `Cannot switch ${h.name} on: it is ${row.state}`, {
          state: row.state,
        });
      if (row.driver === 'qemu') {
        const helper = await this.db
          .selectFrom('hosts')
          .selectAll()
          .where('driver', '=', 'qemu')
          .where('state', '=', 'up')
          .where('id', '!=', row.id)
          .orderBy(sql`zone = ${row.zone}`, 'desc')
          .orderBy('name')
          .executeTakeFirst();
        if (!helper)
          throw new ControlError(
            'BACKEND',
            `Cannot switch ${h.name} on: no other agent is up to run the power-control command`,
          );
        result = {
          via: helper.name,
          ...(await (this.driverFor(helper) as AgentDriver).power({
            action: 'on',
            host: row.name,
            address: row.power_address ?? undefined,
          })),
        };
      }
    }
    const bootS = this.ctx.simBootS ?? 0;
    const to = action === 'off' ? 'off' : row.driver === 'qemu' || bootS > 0 ? 'booting' : 'up';
    const bootUntil =
      action === 'on' && row.driver !== 'qemu' && bootS > 0
        ? new Date((this.ctx.clock.now() + bootS) * 1000).toISOString()
        : null;
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('hosts')
        .set({ state: to, boot_until: bootUntil })
        .where('id', '=', h.id)
        .execute();
      await this.event(trx, {
        hostId: h.id,
        actor: o.actor ?? p.userName,
        kind: action === 'off' ? 'host.powered-off' : 'host.powered-on',
        detail: { reason: o.reason ?? 'requested', result },
      });
    });
    return { host: h.name, state: to, result };
  }

  // ---- metering and billing -------------------------------------------------------------------

  /** A running VM changed host or flavor: close its open usage interval and open a running one there. */
  private async restartUsage(trx: Db, vmId: string, tenantId: string, hostId: string, flavorId: string) {
    await trx
      .updateTable('usage')
      .set({ end_at: this.now() })
      .where('vm_id', '=', vmId)
      .where('end_at', 'is', null)
      .execute();
    await trx
      .insertInto('usage')
      .values({
        vm_id: vmId,
        tenant_id: tenantId,
        host_id: hostId,
        flavor_id: flavorId,
        class: 'running',
        start_at: this.now(),
        end_at: null,
      })
      .execute();
  }

  /** Close the VM's open usage interval and open one for its new billing class (same transaction as the state change). */
  private async meter(trx: Db, vmId: string, state: VmState | 'error') {
    const at = this.now();
    const cls =
      state === 'running' || state === 'suspended' || state === 'migrating' || state === 'resizing'
        ? 'running'
        : state === 'stopped'
          ? 'stopped'
          : null;
    const open = await trx
      .selectFrom('usage')
      .selectAll()
      .where('vm_id', '=', vmId)
      .where('end_at', 'is', null)
      .executeTakeFirst();
    if (open && open.class === cls) return;
    if (open) await trx.updateTable('usage').set({ end_at: at }).where('id', '=', open.id).execute();
    if (!cls) return;
    const v = await trx
      .selectFrom('vms')
      .select(['tenant_id', 'host_id', 'flavor_id'])
      .where('id', '=', vmId)
      .executeTakeFirstOrThrow();
    await trx
      .insertInto('usage')
      .values({
        vm_id: vmId,
        tenant_id: v.tenant_id,
        host_id: v.host_id,
        flavor_id: v.flavor_id,
        class: cls,
        start_at: at,
        end_at: null,
      })
      .execute();
  }

  private tenantScope(p: Principal, tenant?: string): Promise<string> {
    if (!tenant || tenant === p.tenantId) return Promise.resolve(p.tenantId);
    if (p.role !== 'admin' && p.role !== 'operator')
      return this.tenantByRef(tenant).then((t) => {
        if (t.id !== p.tenantId) throw new ControlError('NOT_FOUND', `No tenant "${tenant}"`);
        return t.id;
      });
    return this.tenantByRef(tenant).then((t) => t.id);
  }

  /**
   * Usage of a tenant in [from, to): per VM, seconds running and stopped, vCPU-, memory- and
   * disk-hours, and energy attributed from its host's power model by vCPU share, at the VM's mean
   * measured CPU (an assumed 10 % before its first sample). Times are exact to the second.
   */
  async usage(p: Principal, o: { tenant?: string; from: string; to: string }) {
    const tenantId = await this.tenantScope(p, o.tenant);
    const from = Date.parse(o.from),
      to = Date.parse(o.to);
    if (!(from < to)) throw new ControlError('BAD_REQUEST', `from (${o.from}) must be before to (${o.to})`);
    const rows = await this.db
      .selectFrom('usage')
      .innerJoin('flavors', 'flavors.id', 'usage.flavor_id')
      .leftJoin('hosts', 'hosts.id', 'usage.host_id')
      .innerJoin('vms', 'vms.id', 'usage.vm_id')
      .select([
        'usage.vm_id',
        'vms.name as vm_name',
        'vms.cpu_history',
        'usage.class',
        'usage.start_at',
        'usage.end_at',
        'flavors.name as flavor',
        'flavors.vcpus',
        'flavors.memory_mib',
        'flavors.disk_gib',
        'hosts.vcpus as host_vcpus',
        'hosts.power_model',
      ])
      .where('usage.tenant_id', '=', tenantId)
      .where('usage.start_at', '<', new Date(to).toISOString())
      .where((eb) =>
        eb.or([eb('usage.end_at', 'is', null), eb('usage.end_at', '>', new Date(from).toISOString())]),
      )
      .execute();
    const nowMs = this.ctx.clock.now() * 1000;
    const pieces = rows
      .map((r) => {
        const a = Math.max(from, Date.parse(r.start_at)),
          b = Math.min(to, r.end_at ? Date.parse(r.end_at) : nowMs);
        // Energy is attributed at the VM's mean measured CPU (its recent samples), or an assumed 10 % before any.
        const hist = JSON.parse(r.cpu_history) as number[];
        const utilization = hist.length
          ? hist.reduce((m, x) => m + x, 0) / hist.length
          : ASSUMED_VM_UTILIZATION;
        return { ...r, a, b, utilization, seconds: Math.max(0, Math.round((b - a) / 1000)) };
      })
      .filter((x) => x.seconds > 0);
    return { tenantId, from: new Date(from).toISOString(), to: new Date(to).toISOString(), pieces };
  }

  async usageReport(p: Principal, o: { tenant?: string; from: string; to: string }) {
    const u = await this.usage(p, o);
    const byVm = new Map<
      string,
      {
        vmId: string;
        vm: string;
        flavor: string;
        runningS: number;
        stoppedS: number;
        vcpuHours: number;
        memoryGiBHours: number;
        diskGiBHours: number;
        energyKWh: number;
      }
    >();
    for (const x of u.pieces) {
      const e = byVm.get(x.vm_id) ?? {
        vmId: x.vm_id,
        vm: x.vm_name,
        flavor: x.flavor,
        runningS: 0,
        stoppedS: 0,
        vcpuHours: 0,
        memoryGiBHours: 0,
        diskGiBHours: 0,
        energyKWh: 0,
      };
      const h = x.seconds / 3600;
      if (x.class === 'running') {
        e.runningS += x.seconds;
        e.vcpuHours += x.vcpus * h;
        e.memoryGiBHours += (x.memory_mib / 1024) * h;
        e.energyKWh += (vmPowerW(x.power_model, x.vcpus, x.host_vcpus ?? x.vcpus, x.utilization) * h) / 1000;
      } else e.stoppedS += x.seconds;
      e.diskGiBHours += x.disk_gib * h;
      byVm.set(x.vm_id, e);
    }
    const vms = [...byVm.values()];
    const sum = (f: (v: (typeof vms)[number]) => number) => vms.reduce((s, v) => s + f(v), 0);
    return {
      tenantId: u.tenantId,
      from: u.from,
      to: u.to,
      vms,
      totals: {
        runningS: sum((v) => v.runningS),
        stoppedS: sum((v) => v.stoppedS),
        vcpuHours: sum((v) => v.vcpuHours),
        memoryGiBHours: sum((v) => v.memoryGiBHours),
        diskGiBHours: sum((v) => v.diskGiBHours),
        energyKWh: sum((v) => v.energyKWh),
      },
    };
  }

  /** Usage of a tenant in [from, to) by flavor and UTC day (pieces split at midnight). */
  async usageByDay(p: Principal, o: { tenant?: string; from: string; to: string }) {
    const u = await this.usage(p, o);
    const out = new Map<
      string,
      {
        day: string;
        flavor: string;
        runningS: number;
        stoppedS: number;
        vcpuHours: number;
        memoryGiBHours: number;
        diskGiBHours: number;
      }
    >();
    for (const x of u.pieces) {
      for (let a = x.a; a < x.b;) {
        const midnight = Date.UTC(
          new Date(a).getUTCFullYear(),
          new Date(a).getUTCMonth(),
          new Date(a).getUTCDate() + 1,
        );
        const b = Math.min(x.b, midnight),
          h = (b - a) / 3.6e6,
          day = new Date(a).toISOString().slice(0, 10);
        const e = out.get(`${day}|${x.flavor}`) ?? {
          day,
          flavor: x.flavor,
          runningS: 0,
          stoppedS: 0,
          vcpuHours: 0,
          memoryGiBHours: 0,
          diskGiBHours: 0,
        };
        if (x.class === 'running') {
          e.runningS += (b - a) / 1000;
          e.vcpuHours += x.vcpus * h;
          e.memoryGiBHours += (x.memory_mib / 1024) * h;
        } else e.stoppedS += (b - a) / 1000;
        e.diskGiBHours += x.disk_gib * h;
        out.set(`${day}|${x.flavor}`, e);
        a = b;
      }
    }
    return {
      tenantId: u.tenantId,
      from: u.from,
      to: u.to,
      rows: [...out.values()].sort((m, n) =>
        m.day < n.day ? -1 : m.day > n.day ? 1 : m.flavor < n.flavor ? -1 : 1,
      ),
    };
  }

  async createTariff(
    p: Principal,
    t: {
      name: string;
      validFrom: string;
      validTo?: string;
      currency?: string;
      vcpuHour: number;
      memoryGiBHour: number;
      diskGiBHour: number;
      kWh: number;
    },
  ) {
    this.require(p, 'admin');
    if (t.validTo && !(Date.parse(t.validFrom) < Date.parse(t.validTo)))
      throw new ControlError(
        'BAD_REQUEST',
        `validFrom (${t.validFrom}) must be before validTo (${t.validTo})`,
      );
    const id = this.ctx.ids.uuid();
    await this.db
      .insertInto('tariffs')
      .values({
        id,
        name: t.name,
        valid_from: new Date(t.validFrom).toISOString(),
        valid_to: t.validTo ? new Date(t.validTo).toISOString() : null,
        currency: t.currency ?? 'EUR',
        vcpu_hour: t.vcpuHour,
        memory_gib_hour: t.memoryGiBHour,
        disk_gib_hour: t.diskGiBHour,
        kwh: t.kWh,
        created_at: this.now(),
      })
      .execute();
    return { id, ...t };
  }

  async listTariffs() {
    return (await this.db.selectFrom('tariffs').selectAll().orderBy('valid_from').execute()).map((t) => ({
      id: t.id,
      name: t.name,
      validFrom: t.valid_from,
      validTo: t.valid_to,
      currency: t.currency,
      vcpuHour: t.vcpu_hour,
      memoryGiBHour: t.memory_gib_hour,
      diskGiBHour: t.disk_gib_hour,
      kWh: t.kwh,
    }));
  }

  /**
   * A tenant's invoice for [from, to): usage split at tariff boundaries, one line per flavor and
   * tariff; a stopped VM pays for its disk only. Amounts are rounded to cents per line.
   */
  async invoice(p: Principal, o: { tenant?: string; from: string; to: string }) {
    const u = await this.usage(p, o);
    const tariffs = await this.db.selectFrom('tariffs').selectAll().orderBy('valid_from').execute();
    const lines = new Map<
      string,
      {
        flavor: string;
        tariff: string;
        currency: string;
        runningS: number;
        stoppedS: number;
        vcpuHours: number;
        memoryGiBHours: number;
        diskGiBHours: number;
        energyKWh: number;
        amount: number;
      }
    >();
    let uncovered = 0;
    for (const x of u.pieces) {
      let covered = 0;
      for (const t of tariffs) {
        const a = Math.max(x.a, Date.parse(t.valid_from)),
          b = Math.min(x.b, t.valid_to ? Date.parse(t.valid_to) : Infinity);
        const secs = Math.round((b - a) / 1000);
        if (secs <= 0) continue;
        covered += secs;
        const h = secs / 3600;
        const key = `${x.flavor}|${t.id}`;
        const l = lines.get(key) ?? {
          flavor: x.flavor,
          tariff: t.name,
          currency: t.currency,
          runningS: 0,
          stoppedS: 0,
          vcpuHours: 0,
          memoryGiBHours: 0,
          diskGiBHours: 0,
          energyKWh: 0,
          amount: 0,
        };
        const disk = x.disk_gib * h;
        l.diskGiBHours += disk;
        l.amount += disk * t.disk_gib_hour;
        if (x.class === 'running') {
          const vh = x.vcpus * h,
            mh = (x.memory_mib / 1024) * h,
            kwh = (vmPowerW(x.power_model, x.vcpus, x.host_vcpus ?? x.vcpus, x.utilization) * h) / 1000;
          l.runningS += secs;
          l.vcpuHours += vh;
          l.memoryGiBHours += mh;
          l.energyKWh += kwh;
          l.amount += vh * t.vcpu_hour + mh * t.memory_gib_hour + kwh * t.kwh;
        } else l.stoppedS += secs;
        lines.set(key, l);
      }
      uncovered += Math.max(0, x.seconds - covered);
    }
    const out = [...lines.values()].map((l) => ({ ...l, amount: Math.round(l.amount * 100) / 100 }));
    const currency = out[0]?.currency ?? 'EUR';
    return {
      tenantId: u.tenantId,
      from: u.from,
      to: u.to,
      currency,
      lines: out,
      total: Math.round(out.reduce((s, l) => s + l.amount, 0) * 100) / 100,
      unbilledSeconds: uncovered,
    };
  }

  /** Turn a unique-constraint violation into ALREADY_EXISTS. */
  private unique<T>(f: () => Promise<T>, message: string): Promise<T> {
    return unique(f, message);
  }
}

/** CPU utilization assumed for energy attribution while no host metrics arrive. */
export const ASSUMED_VM_UTILIZATION = 0.1;

/**
 * Power attributed to a VM on its host: the host's idle power shared by vCPU share, plus its
 * dynamic power at the VM's utilization, W (linear model; SPECpower tables use idle and peak).
 */
export function vmPowerW(
  powerModel: string | null,
  vcpus: number,
  hostVcpus: number,
  utilization = ASSUMED_VM_UTILIZATION,
): number {
  const m = parsePower(powerModel ?? '');
  const idle = idlePowerW(m),
    max = maxPowerW(m);
  const share = vcpus / Math.max(1, hostVcpus);
  return share * (idle + (max - idle) * utilization);
}

/**
 * After a restart the simulated hypervisor has forgotten its guests: re-create those the database
 * says exist (the database is the record; simulated hosts follow it).
 */
export async function reconcileSimHosts(cp: ControlPlane, driver: HypervisorDriver): Promise<number> {
  const rows = await cp.db
    .selectFrom('vms')
    .innerJoin('hosts', 'hosts.id', 'vms.host_id')
    .innerJoin('flavors', 'flavors.id', 'vms.flavor_id')
    .select(['vms.id', 'vms.state', 'flavors.vcpus', 'flavors.memory_mib'])
    .where('hosts.driver', '=', 'sim')
    .where('vms.deleted_at', 'is', null)
    .execute();
  let n = 0;
  for (const r of rows) {
    if (await driver.get(r.id)) continue;
    await driver.create({
      id: r.id,
      memoryMiB: r.memory_mib,
      vcpus: r.vcpus,
      image: { kernel: 'image://sim' },
    });
    if (r.state === 'running' || r.state === 'suspended' || r.state === 'building') await driver.start(r.id);
    if (r.state === 'suspended') await driver.pause(r.id);
    n++;
  }
  // A VM left "building" by a crash between its record and its start is running now.
  await cp.db
    .updateTable('vms')
    .set({ state: 'running' })
    .where('state', '=', 'building')
    .where('host_id', 'in', cp.db.selectFrom('hosts').select('id').where('driver', '=', 'sim'))
    .execute();
  return n;
}

/** First-start content of a demo data center: flavors, images, simulated hosts. */
export async function seedDemo(cp: ControlPlane, admin: Principal, hosts = 8): Promise<void> {
  if ((await cp.listFlavors()).length === 0) {
    for (const [name, vcpus, memoryMiB, diskGiB] of [
      ['m1.tiny', 1, 512, 1],
      ['m1.small', 1, 2048, 20],
      ['m1.medium', 2, 4096, 40],
      ['m1.large', 4, 8192, 80],
      ['m1.xlarge', 8, 16384, 160],
    ] as const) {
      await cp.createFlavor(admin, { name, vcpus, memoryMiB, diskGiB });
    }
  }
  if ((await cp.listImages()).length === 0) {
    await cp.createImage(admin, { name: 'tiny', format: 'kernel+initramfs', sizeMiB: 16 });
    await cp.createImage(admin, { name: 'debian-12', format: 'qcow2', sizeMiB: 2048 });
  }
  if ((await cp.listHosts(admin)).length === 0) {
    for (let i = 1; i <= hosts; i++) {
      await cp.createHost(admin, {
        name: `sim-${String(i).padStart(3, '0')}`,
        vcpus: 32,
        memoryMiB: 131072,
        diskGiB: 2000,
        rack: `r${Math.ceil(i / 4)}`,
        driver: 'sim',
      });
    }
  }
}

export type AutomationLevel = 'manual' | 'partial' | 'full';
export interface AutomationSettings {
  level: AutomationLevel;
  /** Audit policy: reservation, or a load-aware preset such as lr-mmt:1.2. */
  policy?: string;
  spareHosts?: number;
  /** Seconds a host must have been empty before automation switches it off (600 by default). */
  powerOffGraceS?: number;
  maxMigrationsPerHost?: number;
  maxMigrationsPerCluster?: number;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** A host's stored power model (a linear 100–250 W model if unreadable). */
export function parsePower(json: string): PowerModelSpec {
  try {
    const m = JSON.parse(json) as PowerModelSpec;
    if (m.type === 'specpower' || m.type === 'linear') return m;
  } catch {
    /* fall through */
  }
  return { type: 'linear', idleW: 100, maxW: 250 };
}

/** A host's latest CPU utilization and power draw (0 W when not on). */
function hostLoad(h: { state: string; power_model: string; cpu_history: string }) {
  const cpu = (JSON.parse(h.cpu_history) as number[])[0] ?? 0;
  const on = h.state === 'up' || h.state === 'maintenance';
  return { cpu, powerW: on ? powerW(parsePower(h.power_model), Math.min(1, Math.max(0, cpu))) : 0 };
}

/**
 * Set one text column on many rows in a few statements (UPDATE ... FROM VALUES works on SQLite
 * 3.33+ and PostgreSQL; VALUES columns are column1, column2 on both).
 */
async function bulkSet(
  db: Db,
  table: 'vms' | 'hosts',
  column: 'cpu_history' | 'cpu_times',
  values: Map<string, string>,
): Promise<void> {
  const rows = [...values];
  for (let i = 0; i < rows.length; i += 500) {
    const chunk = rows.slice(i, i + 500);
    await sql`update ${sql.table(table)} set ${sql.ref(column)} = v.column2 from (values ${sql.join(chunk.map(([id, v]) => sql`(${id}, ${v})`))}) as v where ${sql.ref(`${table}.id`)} = v.column1`.execute(
      db,
    );
  }
}

/** Samples kept per host for the dashboard's plots (a day at 5-minute reports). */
const HOST_HISTORY = 288;

/** A stored history as [{t, cpu}] oldest first (samples recorded before times were kept are left out). */
function series(history: string, times: string): { t: number; cpu: number }[] {
  const h = JSON.parse(history) as number[],
    t = JSON.parse(times) as number[];
  const out: { t: number; cpu: number }[] = [];
  for (let i = Math.min(h.length, t.length) - 1; i >= 0; i--) out.push({ t: t[i]!, cpu: h[i]! });
  return out;
}
