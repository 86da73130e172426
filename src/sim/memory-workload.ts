/**
 * Seeded memory workloads beside the CPU traces: each VM runs an image (an OS whose pages VMs of the
 * same image share) and maybe an application (pages shared by VMs of the same image and application),
 * plus private data; its working set follows a base share of its RAM, a part that follows its CPU
 * trace, and bounded noise. The shareable content is a synthetic fingerprint with known overlap
 * (core/memory/fingerprint.ts). Same spec, seed and VM → same numbers, in any query order.
 */
import { z } from 'zod';
import { PAGES_PER_MIB, syntheticFingerprint, type PageFingerprint } from '../core/memory/fingerprint.ts';
import { seededRandom } from '../runtime/random.ts';
import type { MemoryModelOptions, MemoryVms } from './memory-model.ts';
import { utilizationAt, type Workload } from './workload.ts';

const imageSchema = z
  .object({
    name: z.string().min(1),
    /** Pages of the OS image every VM of this image holds, MiB. */
    osMiB: z.number().nonnegative(),
    /** Relative share of the VMs that run this image. */
    weight: z.number().positive().default(1),
  })
  .strict();

/** The scenario's optional `memory:` section (absent: the simulator models no memory, as before). */
export const memorySpecSchema = z
  .object({
    placement: z.enum(['unaware', 'memory', 'sharing']).default('unaware'),
    images: z
      .array(imageSchema)
      .min(1)
      .default([
        { name: 'ubuntu-22.04', osMiB: 300, weight: 2 },
        { name: 'debian-12', osMiB: 250, weight: 1 },
        { name: 'centos-9', osMiB: 350, weight: 1 },
      ]),
    /** Applications per image; a VM runs one of them or none. */
    apps: z.number().int().nonnegative().default(4),
    /** Pages of an application's code and read-only data, MiB. */
    appMiB: z.number().nonnegative().default(150),
    /** Share of the VMs that run one of the image's applications. */
    appShare: z.number().min(0).max(1).default(0.7),
    /** Share of the VMs whose tenant lets their pages merge with others'. */
    mergeableShare: z.number().min(0).max(1).default(1),
    /** Working set = RAM × (baseShare + cpuShare × CPU utilization + noiseShare × noise in [−1, 1]). */
    baseShare: z.number().min(0).max(1).default(0.3),
    cpuShare: z.number().min(0).max(1).default(0.4),
    noiseShare: z.number().min(0).max(1).default(0.05),
    /** Memory never overcommitted, as a share of each VM's RAM. */
    guaranteedShare: z.number().min(0).max(1).default(0.25),
    risk: z.number().gt(0).lt(0.5).default(0.01),
    headroomMiB: z.number().nonnegative().default(64),
    sharingCredit: z.number().min(0).max(1).default(0.9),
    initialResidentShare: z.number().min(0).max(1).default(1),
    balloonDelayS: z.number().nonnegative().default(10),
    /** ~500 MiB/s: a QMP balloon from 1 GiB to 256 MiB took about 1.5 s (shared/specs/qemu-notes.md). */
    balloonRateMiBps: z.number().positive().default(500),
    swapPenalty: z.number().nonnegative().default(1),
    sharingWeightWPerGiB: z.number().nonnegative().default(50),
    sdPriorShare: z.number().min(0).max(1).default(0.05),
    /**
     * A folder of working-set traces (one file per VM, named as its CPU trace, PlanetLab format:
     * percent of the VM's RAM every 300 s) read instead of the generated working sets.
     */
    workingSetTrace: z.string().min(1).optional(),
    /** Fingerprints sample 1 page content in 2^sampleBits. */
    sampleBits: z.number().int().min(0).max(16).default(12),
  })
  .strict();

export type MemorySpec = z.infer<typeof memorySpecSchema>;

/** The model's options from a spec. */
export function memoryOptions(s: MemorySpec): MemoryModelOptions {
  return {
    placement: s.placement,
    risk: { risk: s.risk, headroomMiB: s.headroomMiB, sharingCredit: s.sharingCredit },
    initialResidentShare: s.initialResidentShare,
    balloonDelayS: s.balloonDelayS,
    balloonRateMiBps: s.balloonRateMiBps,
    swapPenalty: s.swapPenalty,
    sharingWeightWPerGiB: s.sharingWeightWPerGiB,
    sdPriorShare: s.sdPriorShare,
  };
}

/** Per-VM memory classes drawn from the spec: image, application (−1: none), tenant's sharing flag. */
export interface MemoryClasses {
  image: Int32Array;
  app: Int32Array;
  mergeable: Uint8Array;
}

/** Draw each VM's image, application and sharing flag (seeded). */
export function memoryClasses(s: MemorySpec, vms: number, seed: number): MemoryClasses {
  const r = seededRandom(seed ^ 0x6d656d);
  const total = s.images.reduce((a, i) => a + i.weight, 0);
  const image = new Int32Array(vms);
  const app = new Int32Array(vms);
  const mergeable = new Uint8Array(vms);
  for (let v = 0; v < vms; v++) {
    let x = r.next() * total;
    let k = 0;
    while (k < s.images.length - 1 && x >= s.images[k]!.weight) x -= s.images[k++]!.weight;
    image[v] = k;
    app[v] = s.apps > 0 && r.next() < s.appShare ? r.int(s.apps) : -1;
    mergeable[v] = r.next() < s.mergeableShare ? 1 : 0;
  }
  return { image, app, mergeable };
}

/**
 * The VMs' memory for a run: classes from the spec and seed, fingerprints of their shareable
 * segments (scaled down to fit 80 % of a small VM's RAM), and working sets from the CPU utilization.
 */
export function generateMemoryVms(
  s: MemorySpec,
  ramMiB: Float64Array,
  seed: number,
  /** Measured working sets (`readWorkingSetTrace`), percent of RAM: used instead of the formula. */
  trace?: Workload,
): MemoryVms {
  const V = ramMiB.length;
  const c = memoryClasses(s, V, seed);
  const shareable = new Float64Array(V);
  const fingerprints: PageFingerprint[] = [];
  for (let v = 0; v < V; v++) {
    const os = s.images[c.image[v]!]!.osMiB;
    const app = c.app[v]! >= 0 ? s.appMiB : 0;
    const scale = Math.min(1, (0.8 * ramMiB[v]!) / Math.max(1e-9, os + app));
    const osPages = Math.floor(os * scale * PAGES_PER_MIB);
    const appPages = Math.floor(app * scale * PAGES_PER_MIB);
    shareable[v] = (osPages + appPages) / PAGES_PER_MIB;
    const segments = [{ seed: 1 + c.image[v]!, pages: osPages }];
    if (appPages > 0) segments.push({ seed: 1000 + c.image[v]! * 1000 + c.app[v]!, pages: appPages });
    fingerprints.push(syntheticFingerprint({ sampleBits: s.sampleBits, segments }));
  }
  const guaranteedMiB = Float64Array.from(ramMiB, (r) => r * s.guaranteedShare);
  return {
    ramMiB,
    guaranteedMiB,
    fingerprints,
    mergeable: c.mergeable,
    workingSetMiB: (v, t, u) => {
      const ram = ramMiB[v]!;
      const w = trace
        ? ram * utilizationAt(trace, v, t)
        : ram * (s.baseShare + s.cpuShare * u + s.noiseShare * noise(seed, v, Math.floor(t)));
      return Math.min(ram, Math.max(shareable[v]!, w));
    },
  };
}

/** A deterministic value in [−1, 1] for (seed, VM, time): murmur3's fmix32 of the three. */
function noise(seed: number, v: number, t: number): number {
  let h = (Math.imul(seed, 0x9e3779b1) ^ Math.imul(v + 1, 0x85ebca6b) ^ Math.imul(t + 7, 0xc2b2ae35)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return ((h >>> 0) / 0xffffffff) * 2 - 1;
}
