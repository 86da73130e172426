/**
 * The one scheduler: every path that needs a host for a VM (create, migrate with or without a
 * target, resize with re-placement, drain, HA evacuation, plans through migrate, autoscaling through
 * create) asks it. It runs the placement pipeline with the VM's constraints (the core's checkers:
 * server groups, zone and tier pins, the tenant's stated constraints) and claims the capacity. An
 * explicit target goes through the same filters: a hard constraint it breaks is refused naming the
 * constraint and the VMs.
 *
 * Uses: `cp.hosts`, `cp.claims`, `cp.constraintReader`, `cp.constraints`, `cp.powerOn`.
 */
import { admitsAll, type Constraint } from '../../core/constraints/index.ts';
import {
  type HostView,
  type PlacementDecision,
  type PlacementRequest,
  NEW_VM_ID,
  placeVm,
} from '../../policies/placement/pipeline.ts';
import type { ConstraintContext, VmRef } from '../constraints/constraint-reader.ts';
import { authorize } from '../authz.ts';
import { ControlError } from '../errors.ts';
import type { HostRow } from '../inventory/hosts.ts';
import type { Principal } from '../principal.ts';
import { notFoundInTenant } from '../security/tenant-lookup.ts';
import { Service } from '../service.ts';
import { HostCache } from './host-cache.ts';
import { memoryPlacement } from './memory-placement.ts';
import { decideWithMeasured } from './measured-decision.ts';
import { MemoryViews } from './memory-views.ts';
import type { Db } from '../store/open-store.ts';
import { localDiskUse, localVolumesGiB } from '../storage/local-disk.ts';

/** What to place: the VM, its size, where not to go, or the one host it must go to. */
export interface PlaceRequest {
  vm: VmRef;
  flavor: { vcpus: number; memory_mib: number; disk_gib: number; name?: string };
  /** Hosts not to consider (the VM's current host when it moves). */
  exclude?: readonly string[];
  /** Only hosts of this driver kind (a live migration stays between hosts of one kind). */
  driver?: string;
  /** The host it must go to (id): judged by the same filters and checkers, never chosen around. */
  toHost?: string;
  preset?: string;
  /** Constraints the request adds (those a new VM joins). */
  extra?: Constraint[];
  /**
   * GiB of the VM's local volumes that come along (mirrored by a block migration): the host needs room
   * for them too. They are not claimed in the host's counter; they count there once they live on it.
   */
  volumesGiB?: number;
  /** A VM being created: its image and tenant, to predict its memory from a running VM of the image. */
  image?: { imageId: string; tenantId: string };
}

/** What a request needs, for errors a member reads (no host in it). */
const needOf = (r: PlaceRequest) => ({
  vcpus: r.flavor.vcpus,
  memoryMiB: r.flavor.memory_mib,
  zone: r.vm.zone ?? null,
});

/** Every host's attributes that constraints read (a spread needs the rack of hosts that are not candidates). */
const hostAttributesOf = (hosts: readonly HostView[]) =>
  new Map(
    hosts.map((h) => [
      h.id,
      { id: h.id, name: h.name, zone: h.zone, rack: h.rack, tier: h.tier, datacenter: h.datacenter },
    ]),
  );

/** The one place that chooses hosts for VMs and claims their capacity. */
export class Scheduler extends Service {
  /** Hosts' static attributes (capacity, ratios, reserved, zone, rack), cached: placement reads only state and counters. */
  private readonly hostStatic = new Map<string, HostRow>();
  /** The static part of each host's placement view (everything but state, counters and members). */
  private readonly staticViews = new Map<string, Omit<HostView, 'state' | 'used' | 'vmIds'>>();

  /** Host views for placement: a narrow read of what changes, joined with the cached static part. */
  async placementViews(db: Db, members: Map<string, string[]> = new Map()): Promise<HostView[]> {
    const live = await db
      .selectFrom('hosts')
      .select(['id', 'state', 'used_vcpus', 'used_memory_mib', 'used_disk_gib'])
      .where('deleted_at', 'is', null)
      .orderBy('name')
      .execute();
    if (live.some((h) => !this.hostStatic.has(h.id))) {
      this.hostStatic.clear();
      this.staticViews.clear();
      for (const h of await this.cp.hosts.hostRows(db)) {
        this.hostStatic.set(h.id, h);
        const { state: _s, used: _u, vmIds: _m, ...rest } = this.cp.hosts.hostView(h);
        this.staticViews.set(h.id, { ...rest, rack: h.rack, datacenter: h.datacenter });
      }
    }
    // A host's disk holds VM root disks and local volumes: both count (one function for every path).
    const volumes = await localVolumesGiB(db);
    // Only state and counters change between decisions: a small object per host, no row spreads
    // (copying whole rows cost about 1 ms per decision at 200 hosts).
    return live.map((l) => ({
      ...this.staticViews.get(l.id)!,
      state: l.state as HostView['state'],
      used: {
        vcpus: Number(l.used_vcpus),
        memoryMiB: Number(l.used_memory_mib),
        diskGiB: localDiskUse({ ...this.hostStatic.get(l.id)!, used_disk_gib: l.used_disk_gib }, volumes)
          .usedGiB,
      },
      vmIds: members.get(l.id) ?? [],
    }));
  }

  /**
   * Whether `placeAndClaim` asks the in-memory host index (true) or scans every host row per
   * decision (false: the old path, kept for `npm run bench:scheduler`'s comparison). Same decisions.
   */
  useIndex = true;
  /**
   * Weight of the sharing-aware scorer (placement setting `placement-sharing-weight` overrides it);
   * 0 turns it off.
   */
  sharingWeight = 1;
  private readonly cache = new HostCache();
  /** Measured hosts' memory (VMs, parsed fingerprints, sharing indexes), rebuilt per host version. */
  private readonly memoryViews = new MemoryViews();

  /** Forget the cached static host attributes (after a host is edited or deleted: zone, rack, tier, capacity). */
  forgetHosts(): void {
    this.hostStatic.clear();
    this.staticViews.clear();
    this.cache.invalidate();
    this.memoryViews.clear();
  }

  /**
   * Run the pipeline for a request (no claim); also returns the constraints it judged with. With
   * `o.fast` (and `useIndex`) the in-memory index answers: the same host and score, `ranked` holds
   * only the winner and `rejected` is empty unless no host fits (then every host's reason).
   */
  async decide(
    db: Db,
    r: PlaceRequest,
    o: { fast?: boolean } = {},
  ): Promise<{ decision: PlacementDecision; ctx: ConstraintContext }> {
    const ctx = await this.cp.constraintReader.forVm(db, r.vm, r.extra);
    if (o.fast && this.useIndex) {
      const index = await this.cache.current(db);
      const measured = this.cache.measured();
      if (measured.size) {
        const d = await decideWithMeasured(db, r, {
          base: this.pipelineRequest(r, ctx),
          hostAttributes: ctx.constraints.length ? index.attributes() : undefined,
          index,
          measured,
          views: this.memoryViews,
          cp: this.cp,
          sharingWeight: this.sharingWeight,
        });
        if (d) return { decision: d, ctx };
      } else if (r.toHost === undefined) {
        const decision = index.place(this.pipelineRequest(r, ctx), r.preset ?? 'pack', {
          domain: r.driver,
          exclude: r.exclude?.length ? new Set(r.exclude) : undefined,
        });
        return { decision, ctx };
      } else {
        // A given target (a plan's or a caller's migration): the plain pipeline on that one host's
        // indexed view, instead of reading every host row for it. Same filters, constraints and score.
        const h = index.get(r.toHost);
        const views =
          h && !r.exclude?.includes(h.id) && (r.driver === undefined || index.domainOf(h.id) === r.driver)
            ? [h]
            : [];
        const decision = placeVm(
          views,
          {
            ...this.pipelineRequest(r, ctx),
            hostAttributes: ctx.constraints.length ? index.attributes() : undefined,
          },
          r.preset ?? 'pack',
        );
        return { decision, ctx };
      }
    }
    // The scan of every host row (the reference the index answers as). Hosts with a measured memory
    // policy carry their VMs' memory (read in full here).
    const memory = await memoryPlacement(this.cp, db, r, this.sharingWeight);
    if (memory) {
      const all = (await this.placementViews(db)).map((h) => {
        const m = memory.hosts.get(h.id);
        return m ? { ...h, memory: m } : h;
      });
      const views = all.filter(
        (h) =>
          !(r.exclude ?? []).includes(h.id) &&
          (r.toHost === undefined || h.id === r.toHost) &&
          (r.driver === undefined || this.hostStatic.get(h.id)?.driver === r.driver),
      );
      const decision = placeVm(
        views,
        {
          ...this.pipelineRequest(r, ctx),
          memory: memory.request,
          weights: memory.weights,
          hostAttributes: ctx.constraints.length ? hostAttributesOf(all) : undefined,
        },
        r.preset ?? 'pack',
      );
      return { decision, ctx };
    }
    const all = await this.placementViews(db);
    const skip = new Set(r.exclude ?? []);
    const views = all.filter(
      (h) =>
        !skip.has(h.id) &&
        (r.toHost === undefined || h.id === r.toHost) &&
        (r.driver === undefined || this.hostStatic.get(h.id)?.driver === r.driver),
    );
    const decision = placeVm(
      views,
      {
        ...this.pipelineRequest(r, ctx),
        // Every host's attributes (a spread needs the rack of hosts that are not candidates), only
        // when some constraint will be checked.
        hostAttributes: ctx.constraints.length ? hostAttributesOf(all) : undefined,
      },
      r.preset ?? 'pack',
    );
    return { decision, ctx };
  }

  /** The pipeline's request for a scheduler request and the constraints read for its VM. */
  private pipelineRequest(r: PlaceRequest, ctx: ConstraintContext): PlacementRequest {
    return {
      flavor: {
        vcpus: r.flavor.vcpus,
        memoryMiB: r.flavor.memory_mib,
        diskGiB: r.flavor.disk_gib + (r.volumesGiB ?? 0),
      },
      vmId: r.vm.id,
      vmName: r.vm.name,
      constraints: ctx.constraints,
      placement: ctx.placement,
      vmNames: ctx.vmNames,
    };
  }

  /**
   * Choose a host for the request and claim its capacity in `trx` (retrying when a concurrent
   * request took the room first). With `powerOn`, a host that is off is switched on when nothing
   * that is on fits (as consolidation switched it off).
   * @throws ControlError NO_HOST_FITS (the explanation and the rejections per host), or
   *   CONSTRAINT_VIOLATED when an explicit target breaks a hard constraint (named in the message)
   */
  async placeAndClaim(
    trx: Db,
    r: PlaceRequest,
    o: { newVms?: number; powerOn?: Principal } = {},
  ): Promise<{ hostId: string; decision: PlacementDecision }> {
    for (let attempt = 0; ; attempt++) {
      const { decision, ctx } = await this.decide(trx, r, { fast: true });
      if (!decision.hostId && r.toHost) throw await this.refusal(trx, r, decision, ctx);
      if (
        !decision.hostId &&
        o.powerOn &&
        attempt < 3 &&
        (await this.cp.powerOn.powerOnFor(
          trx,
          o.powerOn,
          r.vm.name,
          { name: r.vm.name, ...r.flavor },
          {
            zone: r.vm.zone ?? undefined,
            tier: r.vm.tier ?? undefined,
          },
        ))
      )
        continue;
      if (!decision.hostId)
        throw new ControlError('NO_HOST_FITS', decision.explanation, {
          rejected: decision.rejected,
          request: needOf(r),
        });
      if (
        await this.cp.claims.claimHost(trx, decision.hostId, r.flavor, o.newVms ?? 1, {
          volumesGiB: r.volumesGiB,
        })
      )
        return { hostId: decision.hostId, decision };
      // Lost a race (another request or process took the room, or the host changed): re-read it.
      await this.cache.refresh(trx, [decision.hostId]);
      if (r.toHost || attempt >= 5)
        throw new ControlError(
          'NO_HOST_FITS',
          r.toHost
            ? `Host ${decision.ranked[0]?.hostName ?? r.toHost} has no room for ${r.flavor.name ?? r.vm.name}`
            : `Hosts kept filling up while placing "${r.vm.name}"; try again`,
          { request: needOf(r) },
        );
    }
  }

  /** Why an explicit target was refused: the broken constraint (409 CONSTRAINT_VIOLATED) or the filter. */
  private async refusal(db: Db, r: PlaceRequest, d: PlacementDecision, ctx: ConstraintContext) {
    const host = await db.selectFrom('hosts').select('name').where('id', '=', r.toHost!).executeTakeFirst();
    const name = host?.name ?? r.toHost!;
    const why = d.rejected[0];
    if (why?.filter === 'ConstraintFilter') {
      // The indexed path reads no host rows: load the static attributes for this (rare) refusal.
      if (!this.hostStatic.has(r.toHost!)) await this.placementViews(db);
      const hosts = new Map(
        [...this.hostStatic.values()].map((h) => [
          h.id,
          { id: h.id, name: h.name, zone: h.zone, rack: h.rack, tier: h.tier, datacenter: h.datacenter },
        ]),
      );
      const v = admitsAll(ctx.constraints, { ...ctx, hosts }, r.vm.id, r.toHost!);
      return new ControlError('CONSTRAINT_VIOLATED', `${r.vm.name} may not run on ${name}: ${why.reason}`, {
        host: name,
        constraint: v ? { id: v.constraint.id, name: v.constraint.name, type: v.constraint.type } : undefined,
        vms: v?.vmIds.map((x) => ctx.vmNames.get(x) ?? x),
      });
    }
    return new ControlError(
      'NO_HOST_FITS',
      why ? `Host ${name} cannot take ${r.vm.name}: ${why.reason}` : `Host ${name} cannot take ${r.vm.name}`,
      { rejected: d.rejected, request: needOf(r) },
    );
  }

  /**
   * Where a VM would go and why (no change): the dry run of POST /v1/vms, with its server group,
   * zone, tier and the constraints it would join.
   */
  async placement(
    p: Principal,
    o: {
      flavor: string;
      serverGroup?: string;
      preset?: string;
      zone?: string;
      tier?: string;
      name?: string;
      /** Constraints (names or ids in the tenant) the VM would join. */
      constraints?: string[];
    },
    db: Db = this.db,
  ): Promise<PlacementDecision> {
    authorize(p, 'vm:placement');
    const flavor = await db
      .selectFrom('flavors')
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', o.flavor), eb('name', '=', o.flavor)]))
      .executeTakeFirst();
    if (!flavor) throw new ControlError('NOT_FOUND', `No flavor "${o.flavor}"`);
    const group = o.serverGroup ? await this.groupFor(p, o.serverGroup, db) : undefined;
    const join = await this.cp.constraints.toJoin(db, p, NEW_VM_ID, o.constraints ?? []);
    const { decision } = await this.decide(db, {
      vm: {
        id: NEW_VM_ID,
        name: o.name ?? 'the new VM',
        serverGroupId: group?.id,
        zone: o.zone,
        tier: o.tier,
      },
      flavor,
      preset: o.preset,
      extra: join.extra,
    });
    return decision;
  }

  async groupFor(p: Principal, ref: string, db: Db = this.db) {
    const g = await db
      .selectFrom('server_groups')
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', ref), eb('name', '=', ref)]))
      .where('tenant_id', '=', p.tenantId)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    if (!g)
      throw await notFoundInTenant(
        db,
        p,
        'server-group:read',
        'server group',
        ref,
        `No server group "${ref}"`,
      );
    return g;
  }
}
