/**
 * Run real migrations (QEMU, TCG here) for `npm run bench:migration` and record, per run, everything
 * the models need measured: the guest's non-zero memory counted before the migration, the dirty rate
 * QEMU's calc-dirty-rate reads and the rate the guest really reached (its own counter), QEMU's RAM
 * statistics (zero/normal pages, throughput, rounds, setup), total time, downtime, bytes, and the
 * machine's load average.
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { migrate, MigrationError, type MigrationOptions } from '../src/drivers/qemu/migration.ts';
import type { QemuDriver } from '../src/drivers/qemu/qemu-driver.ts';
import type { RecordedRun } from '../src/models/migration-fit.ts';

/** The benchmark's modes: the driver's options; the model's options are derived from the name. */
export const BENCH_MODES: [string, MigrationOptions][] = [
  ['stop-and-copy', { mode: 'stop-and-copy' }],
  ['precopy', { mode: 'precopy', maxDowntimeMs: 300, timeoutMs: 30_000 }],
  ['postcopy', { mode: 'postcopy', postcopyAfterMs: 1000 }],
  [
    'precopy+multifd-zstd',
    { mode: 'precopy', maxDowntimeMs: 300, multifd: { channels: 2, compression: 'zstd' }, timeoutMs: 30_000 },
  ],
  // A cache half the workload's 128 MiB working set: half the re-sent pages go as deltas.
  ['precopy+xbzrle', { mode: 'precopy', maxDowntimeMs: 300, xbzrleCacheMiB: 64, timeoutMs: 30_000 }],
  ['precopy+auto-converge', { mode: 'precopy', maxDowntimeMs: 300, autoConverge: true, timeoutMs: 30_000 }],
];

interface Progress {
  hb: number;
  dirtied: number;
  bad: number;
  pass: number;
}

/** The guest's progress from its serial log (heartbeats carry the pages it dirtied so far). */
export function progress(log: string): Progress {
  const p: Progress = { hb: 0, dirtied: 0, bad: 0, pass: 0 };
  for (const x of log.split('\n')) {
    const m = /^nubis-hb (\d+) (\d+)/.exec(x);
    if (m) [p.hb, p.dirtied] = [Number(m[1]), Number(m[2])];
    if (x.startsWith('nubis-bad')) p.bad++;
    const q = /^nubis-pass (\d+)/.exec(x);
    if (q) p.pass = Number(q[1]);
  }
  return p;
}

const read = (f: string) => {
  try {
    return progress(readFileSync(f, 'utf8'));
  } catch {
    return undefined;
  }
};

/** Poll the serial log `f` until `pred` holds (true) or `ms` passed (false). */
export async function waitFor(f: string, pred: (p: Progress) => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const p = read(f);
    if (p && pred(p)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/**
 * Count the guest's non-zero 4 KiB pages by reading its RAM from the QEMU process (root): the
 * largest anonymous private mapping at least as large as the guest's RAM. MiB; NaN when unreadable.
 * Only zero tests are made on the bytes: nothing is kept or printed.
 */
export function countNonZeroMiB(pid: number, memMiB: number): number {
  let region: [number, number] | undefined;
  for (const l of readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) rw-p 00000000 00:00 0\s*$/.exec(l);
    if (!m) continue;
    const [s, e] = [parseInt(m[1]!, 16), parseInt(m[2]!, 16)];
    if (e - s >= memMiB * 2 ** 20 && (!region || e - s > region[1] - region[0])) region = [s, e];
  }
  if (!region) return NaN;
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  const buf = Buffer.alloc(2 ** 20);
  let nonZero = 0;
  try {
    const end = region[0] + memMiB * 2 ** 20;
    for (let at = region[0]; at < end; at += buf.length) {
      const n = readSync(fd, buf, 0, buf.length, at);
      for (let p = 0; p + 4096 <= n; p += 4096) {
        const w = new BigUint64Array(buf.buffer, buf.byteOffset + p, 512);
        for (let k = 0; k < 512; k++)
          if (w[k] !== 0n) {
            nonZero++;
            break;
          }
      }
    }
  } finally {
    closeSync(fd);
  }
  return (nonZero * 4096) / 2 ** 20;
}

/** Migrate guest `id` from `from` to `to` once and record everything; the guest is verified after. */
export async function recordRun(
  from: QemuDriver,
  to: QemuDriver,
  id: string,
  cfg: {
    name: string;
    opts: MigrationOptions;
    memMiB: number;
    wwsMiB: number;
    dirty: number;
    bw: number;
    repeat?: number;
  },
): Promise<{ run: RecordedRun; moved: boolean }> {
  const pid = from.pid(id);
  const nonZeroMiB = pid ? countNonZeroMiB(pid, cfg.memMiB) : NaN;
  let dirtySampledMiBps = NaN;
  try {
    dirtySampledMiBps = await from.dirtyRate(id, { seconds: 1, samplePagesPerGiB: 4096 });
  } catch {
    /* recorded as unknown */
  }
  const before = read(from.serialLog(id)) ?? { hb: 0, dirtied: 0, bad: 0, pass: 0 };
  const tBefore = Date.now();
  const run: RecordedRun = {
    mode: cfg.name,
    ...(cfg.opts.xbzrleCacheMiB ? { xbzrleCacheMiB: cfg.opts.xbzrleCacheMiB } : {}),
    ...(cfg.repeat !== undefined ? { repeat: cfg.repeat } : {}),
    memMiB: cfg.memMiB,
    wwsMiB: cfg.wwsMiB,
    dirtyMiBps: cfg.dirty,
    bandwidthMbps: cfg.bw,
    accel: from.accel,
    nonZeroMiB: Math.round(nonZeroMiB * 10) / 10,
    dirtySampledMiBps,
    loadAvg: loadavg().map((x) => Math.round(x * 100) / 100),
    cpus: cpus().length,
    converged: false,
    guestOk: false,
  };
  try {
    const r = await migrate(from, to, id, { ...cfg.opts, bandwidthMbps: cfg.bw });
    run.converged = true;
    run.measured = {
      totalMs: r.totalMs,
      downtimeMs: r.downtimeMs,
      bytes: r.bytes,
      rounds: r.rounds,
      modeUsed: r.modeUsed,
      ...(r.ram ?? {}),
    };
    run.guestOk = await waitFor(
      to.serialLog(id),
      (p) => p.hb > before.hb && p.pass >= 1 && p.bad === 0,
      30_000,
    );
    const after = read(to.serialLog(id));
    if (after && after.dirtied > before.dirtied)
      run.guestDirtyMiBps =
        Math.round(
          (((after.dirtied - before.dirtied) * 4096) / 2 ** 20 / ((Date.now() - tBefore) / 1000)) * 10,
        ) / 10;
    return { run, moved: true };
  } catch (e) {
    run.error = e instanceof MigrationError ? e.report.error : (e as Error).message;
    run.guestOk = await waitFor(from.serialLog(id), (p) => p.hb > before.hb && p.bad === 0, 10_000);
    return { run, moved: false };
  }
}

/** A one-line summary of a recorded run. */
export function describeRun(r: RecordedRun): string {
  const m = r.measured;
  return `${r.mode.padEnd(22)}${r.repeat !== undefined ? ` #${r.repeat}` : ''} ${String(r.memMiB).padStart(4)} MiB ${String(r.dirtyMiBps).padStart(4)} MiB/s ${String(r.bandwidthMbps).padStart(6)} Mbit/s | non-zero ${r.nonZeroMiB} MiB, sampled dirty ${r.dirtySampledMiBps} MiB/s | ${m ? `${Math.round(m.totalMs)} ms, down ${Math.round(m.downtimeMs)} ms, ${(m.bytes / 2 ** 20).toFixed(0)} MiB, ${m.rounds} syncs, ${m.mbps?.toFixed(0)} Mbit/s` : `failed: ${r.error}`} | guest ${r.guestOk ? 'ok' : 'NOT OK'} | load ${r.loadAvg[0]}`;
}
