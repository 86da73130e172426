/**
 * `npm run bench:migration`: migrate real guests (QEMU, TCG here) of several sizes under several
 * dirty rates and bandwidth caps in every mode, record every run (bench/migration-record.ts) into
 * bench/results/migration.json (`-- --quick`: a small set, migration-quick.json), then evaluate the
 * models on the recorded runs (bench/migration-evaluate.ts).
 * `-- --from FILE`: evaluate recorded runs without running guests; `-- --refit`: refit the
 * calibration file (src/models/migration-calibration.json) from the runs and write it;
 * a full run with `--refit` also copies its runs to bench/migration-runs.json (committed with the
 * calibration they made); `-- --repeat N`: run every configuration N times (the spread of identical runs is reported, and
 * the models are fitted on the per-configuration medians).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { QemuDriver } from '../src/drivers/qemu/qemu-driver.ts';
import type { RecordedRun } from '../src/models/migration-fit.ts';
import { evaluateRuns } from './migration-evaluate.ts';
import { BENCH_MODES, describeRun, recordRun, waitFor } from './migration-record.ts';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const fromAt = args.indexOf('--from');
const repeatAt = args.indexOf('--repeat');
const repeat = repeatAt >= 0 ? Number(args[repeatAt + 1]) : 1;
if (!(Number.isInteger(repeat) && repeat >= 1 && repeat <= 20))
  throw new Error(`--repeat needs a whole number of runs from 1 to 20, got ${args[repeatAt + 1]}`);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const guestDir = process.env.NUBIS_GUEST_DIR ?? join(root, '.nubis/guest');
const log = (s: string) => process.stderr.write(s + '\n');

async function runGuests(): Promise<RecordedRun[]> {
  const sizes = quick ? [256] : [256, 512];
  const dirty = quick ? [0, 40] : [0, 20, 100];
  const bandwidths = quick ? [1000] : [200, 1000, 10000];
  const runs: RecordedRun[] = [];
  const hosts = [
    mkdtempSync(join(tmpdir(), 'nubis-bench-a-')),
    mkdtempSync(join(tmpdir(), 'nubis-bench-b-')),
  ];
  const a = await QemuDriver.open({ stateDir: hosts[0]!, accel: 'tcg', imageDirs: [guestDir] });
  const b = await QemuDriver.open({ stateDir: hosts[1]!, accel: 'tcg', imageDirs: [guestDir] });
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
          for (let k = 0; k < repeat; k++)
            for (const [name, opts] of BENCH_MODES) {
              const { run, moved } = await recordRun(from, to, id, {
                name,
                opts,
                memMiB: mem,
                wwsMiB: wl,
                dirty: d,
                bw,
                ...(repeat > 1 ? { repeat: k } : {}),
              });
              runs.push(run);
              log(describeRun(run));
              save(runs, true);
              if (moved) [from, to] = [to, from];
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
  return runs;
}

/** Save the raw runs (after each run too, marked partial: an interrupted benchmark keeps what finished). */
function save(runs: RecordedRun[], partial: boolean): void {
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  writeFileSync(
    join(root, 'bench/results', `migration${quick ? '-quick' : ''}.json`),
    JSON.stringify(
      { date: new Date().toISOString(), partial, repeat, cpus: cpus().length, loadAvgEnd: loadavg(), runs },
      null,
      2,
    ) + '\n',
  );
}

const results = join(root, 'bench/results');
const from = fromAt >= 0 ? args[fromAt + 1] : join(results, `migration${quick ? '-quick' : ''}.json`);
if (fromAt >= 0 && !from)
  throw new Error('--from needs a file of recorded runs (bench/results/migration.json)');
let runs: RecordedRun[];
let fittedFrom = from!;
const refit = args.includes('--refit');
if (fromAt < 0) {
  runs = await runGuests();
  save(runs, false);
  // A full run that refits keeps its runs next to the calibration they made (committed with it).
  if (refit && !quick) {
    fittedFrom = join(root, 'bench/migration-runs.json');
    writeFileSync(fittedFrom, readFileSync(from!));
    log(`wrote ${fittedFrom}`);
  }
} else runs = (JSON.parse(readFileSync(from!, 'utf8')) as { runs: RecordedRun[] }).runs;
const evaluation = evaluateRuns(runs, {
  refit,
  calibrationPath: join(root, 'src/models/migration-calibration.json'),
  from: fittedFrom.replace(root + '/', ''),
  log,
});
mkdirSync(results, { recursive: true });
// The errors go to bench/results/ under the runs file's name (the runs file is left as recorded).
writeFileSync(
  join(results, basename(from!).replace(/\.json$/, '') + '-errors.json'),
  JSON.stringify(evaluation, null, 2) + '\n',
);
