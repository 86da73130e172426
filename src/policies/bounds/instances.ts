/**
 * Packing instances for the lower bounds and the optimizer benchmark: seeded random ones and ones
 * derived from a PlanetLab day (Beloglazov & Buyya's reference experiment, CCPE 2012: its four VM
 * types and two host types, see /work/shared/specs/planetlab-consolidation.md), and the baseline
 * heuristics (FFD, BFD, PABFD) run on them. Pure: the trace is read by the caller.
 */
import {
  HP_PROLIANT_ML110_G4,
  HP_PROLIANT_ML110_G5,
  idlePowerW,
  type PowerModelSpec,
} from '../../models/power.ts';
import { seededRandom, type Random } from '../../runtime/random.ts';
import type { PackHost, PackInstance, PackSolution, PackVm } from '../optimize/instance.ts';
import { placeVectors, type Heuristic } from '../placement/heuristics.ts';

/**
 * How VM demands are drawn: uniform over the whole range, mostly small with some large VMs, or large
 * (a quarter to three quarters of the small host type: where L2 beats L1).
 */
export type DemandShape = 'uniform' | 'bimodal' | 'large';

export interface RandomInstanceOptions {
  vms: number;
  /** Hosts (default: enough for 1.5× the expected total demand, at least 1). */
  hosts?: number;
  shape?: DemandShape;
  seed: number;
  /** Give every VM a current host (a random feasible placement) so migrations can be counted. */
  start?: boolean;
  /** Host types used, alternating (1: every host the first, smaller type; default 2). */
  hostTypes?: 1 | 2;
}

/** The two host types of random instances (alternating): vCPUs and MiB. */
export const RANDOM_HOST_TYPES: readonly { capacity: [number, number]; power: PowerModelSpec }[] = [
  { capacity: [32, 131072], power: { type: 'linear', idleW: 120, maxW: 300 } },
  { capacity: [64, 262144], power: { type: 'linear', idleW: 180, maxW: 450 } },
];

/** Seconds to move `memMiB` over 1 Gbit/s (memory only, one pass). */
const moveS = (memMiB: number) => (memMiB * 8 * 1.048576) / 1000;

/**
 * A random instance: CPU (vCPUs) and memory (MiB) per VM, uniform (1–16 vCPUs, 1–32 GiB, memory
 * loosely tied to CPU), bimodal (80 % small: 1–4 vCPUs, 1–8 GiB; 20 % large: 8–32 vCPUs, 32–128 GiB)
 * or large (8–24 vCPUs, 32–96 GiB).
 * The same options give the same instance.
 * @example randomInstance({ vms: 100, seed: 1, shape: 'bimodal', start: true })
 */
export function randomInstance(o: RandomInstanceOptions): PackInstance {
  if (!(Number.isInteger(o.vms) && o.vms >= 0))
    throw new RangeError(`vms must be an integer >= 0, got ${o.vms}`);
  const r = seededRandom(o.seed);
  const uni = (lo: number, hi: number) => lo + r.int(hi - lo + 1);
  const vms: PackVm[] = Array.from({ length: o.vms }, (_, i) => {
    let cpu: number, memGiB: number;
    if (o.shape === 'large') {
      cpu = uni(8, 24);
      memGiB = uni(32, 96);
    } else if ((o.shape ?? 'uniform') === 'bimodal' && r.next() < 0.2) {
      cpu = uni(8, 32);
      memGiB = uni(32, 128);
    } else if ((o.shape ?? 'uniform') === 'bimodal') {
      cpu = uni(1, 4);
      memGiB = uni(1, 8);
    } else {
      cpu = uni(1, 16);
      memGiB = Math.max(1, Math.min(32, cpu * uni(1, 4) - uni(0, 3)));
    }
    const mem = memGiB * 1024;
    return { id: `vm-${i}`, demand: [cpu, mem], moveCostS: moveS(mem) };
  });
  const types = RANDOM_HOST_TYPES.slice(0, o.hostTypes ?? 2);
  const meanCap = types.reduce((s, t) => s + t.capacity[1], 0) / types.length;
  const meanCpu = types.reduce((s, t) => s + t.capacity[0], 0) / types.length;
  const need = Math.max(
    vms.reduce((s, v) => s + v.demand[0]!, 0) / meanCpu,
    vms.reduce((s, v) => s + v.demand[1]!, 0) / meanCap,
  );
  const M = o.hosts ?? Math.max(1, Math.ceil(need * 1.5));
  const hosts: PackHost[] = Array.from({ length: M }, (_, h) => {
    const t = types[h % types.length]!;
    return hostOf(`host-${h}`, t.capacity, t.power);
  });
  const inst: PackInstance = { dims: ['cpu', 'memoryMiB'], hosts, vms };
  return o.start ? withRandomStart(inst, r.fork()) : inst;
}

function hostOf(id: string, capacity: readonly number[], power: PowerModelSpec): PackHost {
  return { id, name: id, capacity, idleW: idlePowerW(power), on: true, power };
}

/** The reference experiment's VM types: MIPS and RAM (MB). */
export const PLANETLAB_VM_TYPES: readonly { mips: number; ramMiB: number }[] = [
  { mips: 2500, ramMiB: 870 },
  { mips: 2000, ramMiB: 1740 },
  { mips: 1000, ramMiB: 1740 },
  { mips: 500, ramMiB: 613 },
];

/** The reference experiment's host types (2 PEs each): even ids G4, odd ids G5. */
export const PLANETLAB_HOST_TYPES: readonly { mips: number; ramMiB: number; power: PowerModelSpec }[] = [
  { mips: 2 * 1860, ramMiB: 4096, power: HP_PROLIANT_ML110_G4 },
  { mips: 2 * 2660, ramMiB: 4096, power: HP_PROLIANT_ML110_G5 },
];

/** A day of CPU traces (the simulator's `Workload` fits): percent samples, VM-major. */
export interface TraceDay {
  names: readonly string[];
  /** Samples per VM (289 for a PlanetLab day: 288 and a copy of the last). */
  samplesPerVm: number;
  samples: Uint8Array;
}

export interface PlanetLabInstanceOptions {
  /** Sample index in the day (0–287, one every 300 s). */
  interval: number;
  /**
   * VMs (default: one per trace file). Beyond the day's files, VM j reuses file j mod n at
   * interval + 37·⌊j/n⌋ (mod 288), so large instances keep the traces' shape without copies.
   */
  vms?: number;
  /** Hosts (default: the reference's ratio, 800 per 1052 VMs, rounded up). */
  hosts?: number;
  seed: number;
  start?: boolean;
}

/**
 * A PlanetLab-derived instance: VM j's CPU demand is its trace's utilization at the interval times
 * its type's MIPS (type ⌊j / ⌈n/4⌉⌋ as in the reference), its memory the type's RAM; hosts alternate
 * G4/G5 with their SPECpower models. Dimensions: ['cpuMips', 'memoryMiB'] (the PE-size limit of the
 * reference is not modelled: a vector packing sees a host's total MIPS).
 */
export function planetLabInstance(w: TraceDay, o: PlanetLabInstanceOptions): PackInstance {
  const files = w.names.length;
  const n = o.vms ?? files;
  const perDay = w.samplesPerVm - 1;
  if (!(Number.isInteger(o.interval) && o.interval >= 0 && o.interval < perDay))
    throw new RangeError(`interval must be an integer in [0, ${perDay - 1}], got ${o.interval}`);
  if (!(Number.isInteger(n) && n >= 0)) throw new RangeError(`vms must be an integer >= 0, got ${n}`);
  if (files === 0 && n > 0) throw new RangeError('the workload has no traces');
  const quarter = Math.max(1, Math.ceil(n / 4));
  const vms: PackVm[] = Array.from({ length: n }, (_, j) => {
    const type = PLANETLAB_VM_TYPES[Math.min(3, Math.floor(j / quarter))]!;
    const k = (o.interval + 37 * Math.floor(j / files)) % perDay;
    const mips = (w.samples[(j % files) * w.samplesPerVm + k]! / 100) * type.mips;
    // CloudSim's migration time: RAM / (BW / 16000) with BW = 1,000,000 (spec §1.6).
    return {
      id: `vm-${j}`,
      name: w.names[j % files],
      demand: [mips, type.ramMiB],
      moveCostS: type.ramMiB / 62.5,
    };
  });
  const M = o.hosts ?? Math.max(1, Math.ceil((n * 800) / 1052));
  const hosts = Array.from({ length: M }, (_, h) => {
    const t = PLANETLAB_HOST_TYPES[h % 2]!;
    return hostOf(`host-${h}`, [t.mips, t.ramMiB], t.power);
  });
  const inst: PackInstance = { dims: ['cpuMips', 'memoryMiB'], hosts, vms };
  return o.start ? withRandomStart(inst, seededRandom(o.seed)) : inst;
}

/**
 * The same instance with every VM on a host chosen at random among those with room (a few random
 * tries, then the first host with room after a random one); a VM that fits nowhere stays unplaced.
 */
export function withRandomStart(inst: PackInstance, r: Random): PackInstance {
  const H = inst.hosts.length;
  const used = inst.hosts.map(() => new Array<number>(inst.dims.length).fill(0));
  const fits = (h: number, dem: readonly number[]) =>
    dem.every((x, d) => used[h]![d]! + x <= inst.hosts[h]!.capacity[d]! + 1e-9);
  const vms = inst.vms.map((v) => {
    let chosen = -1;
    for (let t = 0; t < 8 && chosen < 0 && H > 0; t++) {
      const h = r.int(H);
      if (fits(h, v.demand)) chosen = h;
    }
    if (chosen < 0 && H > 0) {
      const s = r.int(H);
      for (let k = 0; k < H && chosen < 0; k++) if (fits((s + k) % H, v.demand)) chosen = (s + k) % H;
    }
    if (chosen < 0) return { ...v, hostId: undefined };
    v.demand.forEach((x, d) => (used[chosen]![d]! += x));
    return { ...v, hostId: inst.hosts[chosen]!.id };
  });
  return { ...inst, vms };
}

/** Baseline heuristics the benchmark compares with the bounds and the optimizer. */
export const BASELINES = ['ffd', 'bfd', 'pabfd'] as const;
export type Baseline = (typeof BASELINES)[number];

const HEURISTIC_OF: Record<Baseline, Heuristic> = {
  ffd: 'first-fit-decreasing',
  bfd: 'best-fit-decreasing',
  pabfd: 'power-aware-best-fit-decreasing',
};

/**
 * Pack every VM from scratch with FFD, BFD or PABFD (src/policies/placement/heuristics.ts; PABFD is
 * Beloglazov, Abawajy & Buyya's power-aware BFD, FGCS 2012, with each host's `power` model, or a
 * linear one from `idleW` to 2·`idleW`), and count the migrations from the VMs' current hosts.
 * @throws RangeError naming the first VM that fits nowhere
 */
export function runHeuristic(inst: PackInstance, h: Baseline): PackSolution {
  const cpu = Math.max(
    0,
    inst.dims.findIndex((d) => d.toLowerCase().startsWith('cpu')),
  );
  const res = placeVectors(
    {
      capacities: inst.hosts.map((x) => x.capacity),
      demands: inst.vms.map((v) => v.demand),
      dimensions: inst.dims,
    },
    HEURISTIC_OF[h],
    {
      power: {
        models: inst.hosts.map((x) => x.power ?? { type: 'linear', idleW: x.idleW, maxW: 2 * x.idleW }),
        cpuDimension: cpu,
      },
    },
  );
  const miss = res.unplaced[0];
  if (miss) {
    const r = miss.reasons[0];
    throw new RangeError(
      `${h}: VM ${inst.vms[miss.item]!.id} fits on no host${r ? ` (${r.dimension}: needs ${r.needed})` : ''}; ${res.unplaced.length} VM(s) unplaced`,
    );
  }
  return solutionOf(
    inst,
    Array.from(res.assignment, (a) => inst.hosts[a]!.id),
  );
}

/** A PackSolution from the host id of every VM (in `inst.vms` order): hosts used, migrations, cost. */
export function solutionOf(inst: PackInstance, hostIds: readonly string[]): PackSolution {
  const placement = new Map<string, string>();
  let migrations = 0,
    moveCostS = 0;
  inst.vms.forEach((v, i) => {
    const to = hostIds[i]!;
    placement.set(v.id, to);
    if (v.hostId !== undefined && v.hostId !== to) {
      migrations++;
      moveCostS += v.moveCostS;
    }
  });
  return { placement, hostsUsed: new Set(hostIds).size, migrations, moveCostS };
}
