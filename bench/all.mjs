// `npm run bench`: every benchmark in its quick mode, one after another, then one table of their figures.
// Each benchmark runs in its own process (`node bench/run.mjs NAME.ts --quick --json`) so that one's
// memory and JIT state do not colour the next; the last JSON value it prints is its result.
// Benchmarks that need what this machine lacks (QEMU, Chromium, PostgreSQL) are listed as skipped.
// Options: --only=sim,api (a subset), --json (the table as JSON), --full (full modes: long).
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (k) => process.argv.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3);
const only = arg('only')?.split(',');
const json = process.argv.includes('--json');
const full = process.argv.includes('--full');

const has = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const chromium = ['chromium', 'chromium-browser'].some(has);
const qemu = has('qemu-system-x86_64') && existsSync(join(root, '.nubis/guest/vmlinuz'));
const pg = Boolean(process.env.NUBIS_TEST_PG_URL ?? process.env.NUBIS_BENCH_PG_URL);

/** name, script, what it needs (null: nothing), extra quick-mode arguments. */
const BENCHES = [
  ['sim', 'sim.ts', null, []],
  ['sweep', 'sweep.ts', null, []],
  ['ops', 'ops.ts', null, []],
  ['scheduler', 'scheduler.ts', null, []],
  ['api', 'api.ts', null, []],
  ['api-workers', 'api-workers.ts', pg ? null : 'PostgreSQL (set NUBIS_TEST_PG_URL)', []],
  ['lists', 'lists.ts', null, []],
  ['dashboard', 'dashboard.ts', chromium ? null : 'Chromium', []],
  ['optimize', 'optimize.ts', null, ['--sizes=50,200']],
  ['sim-optimal', 'sim-optimal.ts', null, []],
  ['migration', 'migration.ts', qemu ? null : 'QEMU and the built guest (scripts/build-guest.sh)', []],
  [
    'memory',
    'memory.ts',
    !qemu
      ? 'QEMU and the built guest (scripts/build-guest.sh)'
      : process.getuid?.() !== 0 || !existsSync('/sys/kernel/mm/ksm/run')
        ? 'root and KSM'
        : null,
    [],
  ],
];

/** The last top-level JSON value in a process's output. */
function lastJson(out) {
  const starts = [0];
  for (let i = out.indexOf('\n'); i >= 0; i = out.indexOf('\n', i + 1)) starts.push(i + 1);
  for (const i of starts.reverse()) {
    if (out[i] !== '[' && out[i] !== '{') continue;
    try {
      return JSON.parse(out.slice(i));
    } catch {
      /* not the start of the last value: look further up */
    }
  }
  return undefined;
}

/** A row's figures: `metric value unit (×ratio)` for metric rows, else up to six numeric fields by name. */
function figures(row) {
  const n = (v) => String(Number.isInteger(v) ? v : Number(v.toPrecision(3)));
  if (typeof row.metric === 'string' && typeof row.value === 'number') {
    const ratio = typeof row.ratio === 'number' ? ` (×${n(row.ratio)} vs ${n(row.baseline ?? NaN)})` : '';
    return `${row.metric} ${n(row.value)} ${row.unit ?? ''}`.trimEnd() + ratio;
  }
  return Object.entries(row)
    .filter(([, v]) => typeof v === 'number' && Number.isFinite(v))
    .slice(0, 6)
    .map(([k, v]) => `${k} ${n(v)}`)
    .join(', ');
}

const table = [];
const todo = BENCHES.filter(
  ([name, script]) => (!only || only.includes(name)) && existsSync(join(root, 'bench', script)),
);
for (const [i, [name, script, missing, quickArgs]] of todo.entries()) {
  if (missing) {
    table.push({ bench: name, case: '-', figures: `skipped: needs ${missing}` });
    continue;
  }
  process.stderr.write(`[${i + 1}/${todo.length}] ${name} ...`);
  const t0 = performance.now();
  const r = spawnSync(
    process.execPath,
    [join(root, 'bench/run.mjs'), script, ...(full ? [] : ['--quick', ...quickArgs]), '--json'],
    { cwd: root, encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const s = ((performance.now() - t0) / 1000).toFixed(0);
  process.stderr.write(` ${r.status === 0 ? 'done' : 'FAILED'} in ${s} s\n`);
  const out = r.status === 0 ? lastJson(r.stdout) : undefined;
  if (out === undefined) {
    const why = (r.stderr || r.stdout || '').trim().split('\n').slice(-1)[0] ?? '';
    table.push({ bench: name, case: '-', figures: `failed (exit ${r.status}): ${why.slice(0, 120)}` });
    continue;
  }
  const rows = Array.isArray(out) ? out : Array.isArray(out.rows) ? out.rows : [out];
  for (const row of rows)
    table.push({
      bench: name,
      case: String(row.name ?? row.case ?? row.instance ?? '-'),
      figures: figures(row),
    });
}

if (json) console.log(JSON.stringify(table, null, 2));
else {
  const w = [5, 4].map((m, c) => Math.max(m, ...table.map((t) => (c ? t.case : t.bench).length)));
  console.log(`${'bench'.padEnd(w[0])}  ${'case'.padEnd(w[1])}  figures`);
  for (const t of table) console.log(`${t.bench.padEnd(w[0])}  ${t.case.padEnd(w[1])}  ${t.figures}`);
}
