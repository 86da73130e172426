/**
 * Simulated guests' memory profiles: a deterministic synthetic fingerprint from the guest's spec, so
 * simulated clouds report profiles as real hosts do. A guest's RAM is an OS/image segment (the same
 * contents for every guest of that image), a private segment (its own id's contents) and zero pages
 * for the part it never touched; its working set is a fixed share of its memory.
 */
import type { GuestSpec } from '../../core/hypervisor.ts';
import { MAX_SAMPLE_BITS, PAGES_PER_MIB, syntheticFingerprint } from '../../core/memory/fingerprint.ts';
import type { GuestMemoryProfile } from '../../core/memory/profile.ts';

/** Shares of a simulated guest's memory: image contents, private contents, working set. */
export const SIM_MEMORY_SHARES = { image: 0.2, private: 0.4, workingSet: 0.6 } as const;
/** Image contents stop growing past this (an OS image's resident part), MiB. */
const IMAGE_CAP_MIB = 512;

/** 32-bit FNV-1a of a string (seeds from names). */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The name of what a guest boots (registry image id, kernel or disk file), '' when none. */
function imageName(spec: GuestSpec): string {
  return spec.image.cached?.id ?? spec.image.kernel ?? spec.image.disk ?? '';
}

/**
 * A simulated guest's memory profile at time `at` (ISO 8601).
 * @throws RangeError for sampleBits outside 0..16
 */
export function simMemoryProfile(spec: GuestSpec, at: string, sampleBits = 6): GuestMemoryProfile {
  if (!(Number.isInteger(sampleBits) && sampleBits >= 0 && sampleBits <= MAX_SAMPLE_BITS))
    throw new RangeError(`sampleBits must be a whole number from 0 to ${MAX_SAMPLE_BITS}`);
  const pages = spec.memoryMiB * PAGES_PER_MIB;
  const imagePages = Math.floor(Math.min(IMAGE_CAP_MIB * PAGES_PER_MIB, pages * SIM_MEMORY_SHARES.image));
  const privatePages = Math.floor(pages * SIM_MEMORY_SHARES.private);
  const fingerprint = syntheticFingerprint({
    sampleBits,
    zeroPages: pages - imagePages - privatePages,
    segments: [
      { seed: fnv1a(`image:${imageName(spec)}`), pages: imagePages },
      { seed: fnv1a(`guest:${spec.id}`), pages: privatePages },
    ],
  });
  return {
    at,
    memoryMiB: spec.memoryMiB,
    residentMiB: spec.memoryMiB,
    workingSetMiB: Math.round(spec.memoryMiB * SIM_MEMORY_SHARES.workingSet),
    mergeable: spec.mergeable !== false,
    fingerprint,
    scanCpuMs: 0,
  };
}
