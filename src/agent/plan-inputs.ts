/**
 * What the agent's migration planner (agent-server.ts, `POST /v1/guests/:id/migrate {plan}`) measures
 * of a guest before choosing a mode: its non-zero memory.
 */
import type { QemuDriver } from '../drivers/qemu/qemu-driver.ts';
import { DEFAULT_CALIBRATION } from '../models/migration.ts';

/** Guests up to this size are scanned for their non-zero pages before a planned migration, MiB. */
export const PLAN_SCAN_MAX_MIB = 4096;

/**
 * The guest's non-zero memory for the migration planner, MiB: its resident pages minus its zero
 * pages (counted exactly) from a coarse page scan (`memoryProfile` at sampleBits 12, 1 GiB/s: at most
 * 4 s for the largest guest scanned); for a larger guest, or when the scan fails, what the balloon
 * says it uses, at least the calibrated share of its RAM (the planner's old floor).
 */
export async function plannedNonZeroMiB(
  d: Pick<QemuDriver, 'memoryProfile' | 'memoryStats'>,
  id: string,
  memMiB: number,
): Promise<number> {
  if (memMiB <= PLAN_SCAN_MAX_MIB) {
    const p = await d.memoryProfile(id, { sampleBits: 12, rateMiBps: 1024 }).catch(() => undefined);
    if (p?.fingerprint)
      return Math.min(memMiB, ((p.fingerprint.pages - p.fingerprint.zeroPages) * 4096) / 2 ** 20);
  }
  const st = await d.memoryStats(id).catch(() => undefined);
  const used = st ? st.totalMiB - st.freeMiB : memMiB;
  return Math.max(used, memMiB * DEFAULT_CALIBRATION.nonZeroShare);
}
