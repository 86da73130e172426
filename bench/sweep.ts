/**
 * `npm run bench:sweep`: a parameter sweep (4 policies × 2 PlanetLab days) as a user runs it, the
 * whole `nubis sim` process, sequential (`--jobs 1`) against worker threads (`--jobs 2`, or
 * `--jobs N`): wall time, speed-up, the process's peak RSS (largest `peakRssMiB` of its rows), and
 * whether both gave the same rows. Runs alternate (1, N, 1, N, …) so both see the same machine load;
 * the figures are the medians.
 * Options: --quick (300 VMs per day on 100 hosts, one round), --jobs N (default 2), --rounds N, --json.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const json = args.includes('--json');
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  const n = i >= 0 ? Number(args[i + 1]) : dflt;
  if (!Number.isInteger(n) || n < 1)
    throw new RangeError(`${name} must be an integer >= 1, got "${args[i + 1]}"`);
  return n;
};
const jobs = opt('--jobs', 2);
const rounds = opt('--rounds', quick ? 1 : 3);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const DATA = join(root, '../shared/data/planetlab');
const days = ['20110303', '20110306'];
const policies = 'thr-mmt:0.8,lr-mmt:1.2,mad-mmt:2.5,lr-rs:1.2';
const grid = [
  'sim',
  ...days.flatMap((d) => ['--trace', join(DATA, d)]),
  '--policy',
  policies,
  ...(quick ? ['--limit-vms', '300', '--hosts', '100'] : []),
  '--json',
];

interface Row {
  wallMs: number;
  peakRssMiB: number;
  [k: string]: unknown;
}

/** One whole `nubis sim` process: its wall time and rows. */
function run(j: number): { wallMs: number; rows: Row[] } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [join(root, 'bin/nubis.js'), ...grid, '--jobs', String(j)], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  const wallMs = performance.now() - t0;
  if (r.status !== 0) throw new Error(`nubis sim --jobs ${j} failed (exit ${r.status}): ${r.stderr}`);
  return { wallMs, rows: JSON.parse(r.stdout) as Row[] };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const decisions = (rows: Row[]) => JSON.stringify(rows.map(({ wallMs: _w, peakRssMiB: _p, ...r }) => r));

run(1); // builds the bundle if src/ changed, and warms the file cache with both days
const seq: number[] = [],
  par: number[] = [];
let seqRss = 0,
  parRss = 0,
  same = true,
  cells = 0;
for (let i = 0; i < rounds; i++) {
  const a = run(1);
  const b = run(jobs);
  seq.push(a.wallMs);
  par.push(b.wallMs);
  seqRss = Math.max(seqRss, ...a.rows.map((r) => r.peakRssMiB));
  parRss = Math.max(parRss, ...b.rows.map((r) => r.peakRssMiB));
  same &&= decisions(a.rows) === decisions(b.rows);
  cells = a.rows.length;
  if (!json)
    console.log(
      `round ${i + 1}: --jobs 1 ${(a.wallMs / 1000).toFixed(2)} s, --jobs ${jobs} ${(b.wallMs / 1000).toFixed(2)} s`,
    );
}
const s = median(seq),
  p = median(par);
const name = `sweep ${cells} cells (${days.length} days × 4 policies${quick ? ', 300 VMs' : ''})`;
const rows = [
  { name, metric: 'wall --jobs 1', value: Number((s / 1000).toFixed(2)), unit: 's' },
  {
    name,
    metric: `wall --jobs ${jobs}`,
    value: Number((p / 1000).toFixed(2)),
    unit: 's',
    baseline: Number((s / 1000).toFixed(2)),
    ratio: Number((s / p).toFixed(2)),
  },
  { name, metric: 'peak RSS --jobs 1', value: Math.round(seqRss), unit: 'MiB' },
  { name, metric: `peak RSS --jobs ${jobs}`, value: Math.round(parRss), unit: 'MiB' },
  { name, metric: 'same rows', value: same ? 1 : 0, unit: 'bool' },
];
if (json) console.log(JSON.stringify(rows));
else
  console.log(
    `\n${name}, median of ${rounds}: --jobs 1 ${(s / 1000).toFixed(2)} s, --jobs ${jobs} ${(p / 1000).toFixed(2)} s: ${(s / p).toFixed(2)}x; peak RSS ${Math.round(seqRss)} → ${Math.round(parRss)} MiB; same rows: ${same ? 'yes' : 'NO'}`,
  );
