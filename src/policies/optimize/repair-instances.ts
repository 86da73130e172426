/**
 * Repair benchmark instances, as in BtrPlace's evaluation (Hermenier et al., IEEE TDSC 2013): a
 * data center of racks and zones, VMs placed validly under hundreds of hard constraints
 * (anti-affinity groups, spreads over racks, fences to racks), then one fault: a load increase
 * (demands ×1.2 on a random 20 % of the VMs, so some hosts overload) or a rack put into
 * maintenance (its hosts banned). Seeded and pure: the same options give the same instance.
 */
import { admitsAll, constraintsByVm, type Constraint } from '../../core/constraints/index.ts';
import { idlePowerW } from '../../models/power.ts';
import { seededRandom, type Random } from '../../runtime/random.ts';
import { RANDOM_HOST_TYPES } from '../bounds/instances.ts';
import type { PackHost, PackInstance, PackVm } from './instance.ts';

/** The fault injected after the valid start. */
export type RepairFault = 'load' | 'maintenance';

export interface RepairInstanceOptions {
  hosts: number;
  vms: number;
  seed: number;
  fault: RepairFault;
  /** Hosts per rack (default 20). */
  rackSize?: number;
  /** Hosts per zone (default 500: the parts the optimizer solves apart). */
  zoneSize?: number;
  /** Host types, alternating (RANDOM_HOST_TYPES; default 1: identical hosts). */
  hostTypes?: 1 | 2;
  /** Hard constraints generated (default hosts / 12, i.e. ~400 for 5,000 hosts). */
  constraints?: number;
}

/** The instance after the fault, the one before it (valid), and what the fault touched. */
export interface RepairInstance {
  instance: PackInstance;
  before: PackInstance;
  /** VMs whose demand grew (load) or hosts banned (maintenance). */
  touched: { vms: string[]; hosts: string[]; rack?: string };
}

/** Seconds to move `memMiB` over 10 Gbit/s (one pass). */
const moveS = (memMiB: number) => (memMiB * 8 * 1.048576) / 10000;

function shuffled<T>(a: readonly T[], r: Random): T[] {
  const out = [...a];
  for (let i = out.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * A repair instance. Throws when the VMs do not fit the hosts at the start (too many VMs).
 * @example repairInstance({ hosts: 500, vms: 3000, seed: 1, fault: 'maintenance' })
 */
export function repairInstance(o: RepairInstanceOptions): RepairInstance {
  const r = seededRandom(o.seed);
  const uni = (lo: number, hi: number) => lo + r.int(hi - lo + 1);
  const rackSize = o.rackSize ?? 20,
    zoneSize = o.zoneSize ?? 500;
  const hosts: PackHost[] = Array.from({ length: o.hosts }, (_, i) => {
    const t = RANDOM_HOST_TYPES[i % (o.hostTypes ?? 1)]!;
    return {
      id: `host-${i}`,
      name: `host-${i}`,
      rack: `rack-${Math.floor(i / rackSize)}`,
      zone: `zone-${Math.floor(i / zoneSize)}`,
      capacity: t.capacity,
      idleW: idlePowerW(t.power),
      on: true,
      power: t.power,
    };
  });
  const zones = [...new Set(hosts.map((h) => h.zone!))];
  const hostsOfZone = new Map(zones.map((z) => [z, hosts.filter((h) => h.zone === z)]));
  const racksOfZone = new Map(zones.map((z) => [z, [...new Set(hostsOfZone.get(z)!.map((h) => h.rack!))]]));
  // VMs: 1–8 vCPUs, 1–4 GiB per vCPU (at most 32 GiB), each given a zone in turn.
  const vms: (PackVm & { zone: string })[] = Array.from({ length: o.vms }, (_, i) => {
    const cpu = uni(1, 8);
    const mem = Math.min(32, cpu * uni(1, 4)) * 1024;
    return { id: `vm-${i}`, demand: [cpu, mem], moveCostS: moveS(mem), zone: zones[i % zones.length]! };
  });
  const byZone = new Map(zones.map((z) => [z, vms.filter((v) => v.zone === z)]));

  // Constraints among VMs of one zone: anti-affinity (3–5), spread over racks (3–6), fence to a rack (2–4).
  const constraints: Constraint[] = [];
  const taken = new Set<string>();
  const fencedRacks = new Set<string>();
  const n = o.constraints ?? Math.round(o.hosts / 12);
  for (let k = 0; k < n; k++) {
    const zone = zones[k % zones.length]!;
    const pool = byZone.get(zone)!;
    // A spread leaves a rack free, so one rack in maintenance never makes it infeasible.
    const size = Math.min(k % 3 === 2 ? uni(2, 4) : uni(3, 6), racksOfZone.get(zone)!.length - 1);
    const members: string[] = [];
    for (let t = 0; t < 50 && members.length < size && pool.length; t++) {
      const v = pool[r.int(pool.length)]!.id;
      if (!taken.has(v) && !members.includes(v)) members.push(v);
    }
    members.forEach((v) => taken.add(v));
    if (members.length < 2) continue;
    const id = `c-${k}`;
    if (k % 3 === 0) constraints.push({ id, type: 'anti-affinity', hard: true, vms: members });
    else if (k % 3 === 1)
      constraints.push({ id, type: 'spread', hard: true, vms: members, over: 'rack', maxPerDomain: 1 });
    else {
      const racks = racksOfZone.get(zone)!;
      const rack = racks[r.int(racks.length)]!;
      fencedRacks.add(rack);
      constraints.push({ id, type: 'fence', hard: true, vms: members, where: { rack } });
    }
  }

  // A valid, consolidated start: per zone, constrained VMs first, each on the first host (in id
  // order) with room that every constraint admits (first fit: hosts are nearly full, the last empty).
  const byVm = constraintsByVm(constraints);
  const where = new Map<string, string[]>();
  const state = { hosts: new Map(hosts.map((h) => [h.id, h])), placement: where };
  const used = new Map(hosts.map((h) => [h.id, [0, 0]]));
  const placed: PackVm[] = [];
  for (const zone of zones) {
    const zh = hostsOfZone.get(zone)!;
    const order = shuffled(byZone.get(zone)!, r).sort(
      (a, b) => Number(byVm.has(b.id)) - Number(byVm.has(a.id)),
    );
    for (const v of order) {
      const cs = byVm.get(v.id) ?? [];
      let host: PackHost | undefined;
      for (let t = 0; t < zh.length && !host; t++) {
        const h = zh[t]!;
        const u = used.get(h.id)!;
        if (!v.demand.every((x, d) => u[d]! + x <= h.capacity[d]!)) continue;
        if (cs.length && admitsAll(cs, state, v.id, h.id)) continue;
        host = h;
      }
      if (!host) throw new RangeError(`${o.vms} VMs do not fit ${o.hosts} hosts (VM ${v.id} fits nowhere)`);
      v.demand.forEach((x, d) => (used.get(host.id)![d]! += x));
      where.set(v.id, [host.id]);
      placed.push({ id: v.id, demand: v.demand, moveCostS: v.moveCostS, hostId: host.id });
    }
  }
  placed.sort((a, b) => Number(a.id.slice(3)) - Number(b.id.slice(3)));
  const before: PackInstance = { dims: ['cpu', 'memoryMiB'], hosts, vms: placed, constraints };

  if (o.fault === 'load') {
    const grow = new Set(
      shuffled(placed, r)
        .slice(0, Math.round(0.2 * placed.length))
        .map((v) => v.id),
    );
    const vmsAfter = placed.map((v) =>
      grow.has(v.id) ? { ...v, demand: v.demand.map((x) => x * 1.2), moveCostS: v.moveCostS * 1.2 } : v,
    );
    return {
      instance: { ...before, vms: vmsAfter },
      before,
      touched: { vms: [...grow], hosts: [] },
    };
  }
  // Maintenance: a rack with VMs that no fence points at; its hosts banned for the VMs of its zone.
  const busy = new Set(placed.map((v) => state.hosts.get(v.hostId!)!.rack!));
  const candidates = [...busy].filter((x) => !fencedRacks.has(x));
  const rack = candidates[r.int(candidates.length)]!;
  const banned = hosts.filter((h) => h.rack === rack);
  const zone = banned[0]!.zone!;
  const ban: Constraint = {
    id: 'maintenance',
    name: `maintenance of ${rack}`,
    type: 'ban',
    hard: true,
    vms: byZone.get(zone)!.map((v) => v.id),
    hosts: banned.map((h) => h.id),
  };
  return {
    instance: { ...before, constraints: [...constraints, ban] },
    before,
    touched: { vms: [], hosts: banned.map((h) => h.id), rack },
  };
}
