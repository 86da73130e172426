/**
 * `npm run bench:migration`: migrate real guests (QEMU, TCG here) of several sizes under several
 * dirty rates and bandwidth caps in every mode; print measured vs predicted (src/models/migration.ts),
 * the model's error, and constants fitted to this machine; save the table to bench/results/.
 * `-- --quick` runs a small set (a few minutes); `-- --json` prints a JSON array of runs only.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrate, MigrationError, type MigrationOptions } from '../src/drivers/qemu/migration.ts';
import { QemuDriver } from '../src/drivers/qemu/qemu-driver.ts';
import {
  DEFAULT_CALIBRATION,
  predictMigration,
  TINY_GUEST_USED_SHARE,
  type MigrationHostCalibration,
  type MigrationModelOptions,
} from '../src/models/migration.ts';

const quick = process.argv.includes('--quick');
const json = process.argv.includes('--json');
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const guestDir = process.env.NUBIS_GUEST_DIR ?? join(root, '.nubis/guest');
const log = (s: string) => {
  if (!json) process.stderr.write(s + '\n');
};

const modes: [string, MigrationOptions, MigrationModelOptions][] = [
  ['stop-and-copy', { mode: 'stop-and-copy' }, { mode: 'stop-and-copy' }],
  [
    'precopy',
    { mode: 'precopy', maxDowntimeMs: 300, timeoutMs: 30_000 },
    { mode: 'precopy', maxDowntimeMs: 300 },
  ],
  ['postcopy', { mode: 'postcopy', postcopyAfterMs: 1000 }, { mode: 'postcopy', postcopyAfterMs: 1000 }],
  [
    'precopy+multifd-zstd',
    { mode: 'precopy', maxDowntimeMs: 300, multifd: { channels: 2, compression: 'zstd' }, timeoutMs: 30_000 },
    { mode: 'precopy', maxDowntimeMs: 300, multifdZstd: true },
  ],
];
const sizes = quick ? [256] : [256, 512];
const dirty = quick ? [0, 40] : [0, 20, 100];
const bandwidths = quick ? [1000] : [200, 1000, 10000];

interface Run {
  mode: string;
  memMiB: number;
  dirtyMiBps: number;
  bandwidthMbps: number;
  accel: string;
  converged: boolean;
  guestOk: boolean;
  measured: { totalMs: number; downtimeMs: number; bytes: number };
  predicted: { totalMs: number; downtimeMs: number; bytes: number };
  error?: string;
}

const runs: Run[] = [];
const hosts = [mkdtempSync(join(tmpdir(), 'nubis-bench-a-')), mkdtempSync(join(tmpdir(), 'nubis-bench-b-'))];
const a = await QemuDriver.open({ stateDir: hosts[0]!, accel: 'tcg', imageDirs: [guestDir] });
const b = await QemuDriver.open({ stateDir: hosts[1]!, accel: 'tcg', imageDirs: [guestDir] });
const progress = (l: string) => {
  let hb = 0,
    bad = 0,
    pass = 0;
  for (const x of l.split('\n')) {
    const m = /^nubis-hb (\d+)/.exec(x);
    if (m) hb = Number(m[1]);
    if (x.startsWith('nubis-bad')) bad++;
    const p = /^nubis-pass (\d+)/.exec(x);
    if (p) pass = Number(p[1]);
  }
  return { hb, bad, pass };
};
const waitFor = async (f: string, pred: (p: ReturnType<typeof progress>) => boolean, ms: number) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      if (pred(progress(readFileSync(f, 'utf8')))) return true;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
};

try {
  for (const mem of sizes)
    for (const d of dirty) {
      const wl = Math.min(mem / 2, 128);
      const id = `bench-${mem}-${d}`;
      await a.create({
        id,
        memoryMiB: mem,
        vcpus: 1,
        image: { kernel: join(guestDir, 'vmlinuz'), initrd: join(guestDir, 'initramfs.cpio.gz') },
        workload: { mib: wl, rateMiBps: d },
      });
      await a.start(id);
      await waitFor(a.serialLog(id), (p) => p.pass >= 1, 60_000);
      let [from, to] = [a, b];
      for (const bw of bandwidths)
        for (const [name, opts, model] of modes) {
          const before = progress(readFileSync(from.serialLog(id), 'utf8')).hb;
          const pred = predictMigration(
            {
              memMiB: mem,
              usedMiB: mem * TINY_GUEST_USED_SHARE,
              wwsMiB: wl,
              dirtyMiBps: d,
              bandwidthMbps: bw,
            },
            model,
          );
          const run: Run = {
            mode: name,
            memMiB: mem,
            dirtyMiBps: d,
            bandwidthMbps: bw,
            accel: a.accel,
            converged: false,
            guestOk: false,
            measured: { totalMs: 0, downtimeMs: 0, bytes: 0 },
            predicted: { totalMs: pred.totalMs, downtimeMs: pred.downtimeMs, bytes: pred.bytes },
          };
          try {
            const r = await migrate(from, to, id, { ...opts, bandwidthMbps: bw });
            run.converged = true;
            run.measured = { totalMs: r.totalMs, downtimeMs: r.downtimeMs, bytes: r.bytes };
            run.guestOk = await waitFor(
              to.serialLog(id),
              (p) => p.hb > before && p.pass >= 1 && p.bad === 0,
              30_000,
            );
            [from, to] = [to, from];
          } catch (e) {
            run.error = e instanceof MigrationError ? e.report.error : (e as Error).message;
            run.guestOk = await waitFor(from.serialLog(id), (p) => p.hb > before && p.bad === 0, 10_000);
          }
          runs.push(run);
          log(
            `${name.padEnd(22)} ${String(mem).padStart(4)} MiB ${String(d).padStart(4)} MiB/s ${String(bw).padStart(6)} Mbit/s | measured ${run.converged ? `${Math.round(run.measured.totalMs)} ms, down ${Math.round(run.measured.downtimeMs)} ms, ${(run.measured.bytes / 2 ** 20).toFixed(0)} MiB` : 'did not converge'} | predicted ${pred.converged ? `${Math.round(pred.totalMs)} ms, down ${Math.round(pred.downtimeMs)} ms, ${(pred.bytes / 2 ** 20).toFixed(0)} MiB` : 'does not converge'} | guest ${run.guestOk ? 'ok' : 'NOT OK'}`,
          );
        }
      await from.delete(id);
    }
} finally {
  for (const d of [a, b]) {
    for (const g of await d.list()) await d.delete(g.id).catch(() => undefined);
    await d.close();
  }
  for (const h of hosts) rmSync(h, { recursive: true, force: true });
}

// Model error and a fit of the stream rate to this machine.
const ok = runs.filter((r) => r.converged && Number.isFinite(r.predicted.totalMs));
const mape = (f: (r: Run) => [number, number]) =>
  ok.length
    ? ok.reduce((s, r) => {
        const [m, p] = f(r);
        return s + Math.abs(p - m) / Math.max(1, m);
      }, 0) / ok.length
    : NaN;
// The hosts' own limit shows on the fastest link only.
const topBw = Math.max(...runs.map((r) => r.bandwidthMbps));
const sc = runs.filter((r) => r.mode === 'stop-and-copy' && r.converged && r.bandwidthMbps === topBw);
const fitted: MigrationHostCalibration = { ...DEFAULT_CALIBRATION };
if (sc.length) {
  const rates = sc
    .map(
      (r) =>
        r.measured.bytes /
        2 ** 20 /
        Math.max(0.001, (r.measured.totalMs - DEFAULT_CALIBRATION.setupMs) / 1000),
    )
    .sort((x, y) => x - y);
  fitted.maxStreamMiBps = Math.round(rates[Math.floor(rates.length / 2)]!);
}
const idle = runs.filter((r) => r.mode === 'stop-and-copy' && r.converged && r.dirtyMiBps === 0);
const usedShare = idle.length
  ? idle.reduce((x, r) => x + r.measured.bytes / 2 ** 20 / r.memMiB, 0) / idle.length
  : NaN;
const summary = {
  usedShare,
  runs: runs.length,
  converged: runs.filter((r) => r.converged).length,
  guestOk: runs.filter((r) => r.guestOk).length,
  totalTimeError: mape((r) => [r.measured.totalMs, r.predicted.totalMs]),
  downtimeErrorMs: ok.length
    ? ok.reduce((x, r) => x + Math.abs(r.predicted.downtimeMs - r.measured.downtimeMs), 0) / ok.length
    : NaN,
  bytesError: mape((r) => [r.measured.bytes, r.predicted.bytes]),
  fittedCalibration: fitted,
};
mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(
  join(root, 'bench/results', `migration${quick ? '-quick' : ''}.json`),
  JSON.stringify({ date: new Date().toISOString(), summary, runs }, null, 2),
);
if (json) console.log(JSON.stringify(runs, null, 2));
else
  log(
    `\n${summary.converged}/${summary.runs} converged, guest verified after ${summary.guestOk}; mean abs. error of the model: total time ${(summary.totalTimeError * 100).toFixed(0)} %, downtime ${summary.downtimeErrorMs.toFixed(0)} ms, bytes ${(summary.bytesError * 100).toFixed(0)} %\nfitted on this machine: stream ${fitted.maxStreamMiBps} MiB/s (default ${DEFAULT_CALIBRATION.maxStreamMiBps}), used share of guest RAM ${usedShare.toFixed(2)} (default ${TINY_GUEST_USED_SHARE})`,
  );
