/**
 * `npm run bench:optimize`: random (uniform, bimodal) and PlanetLab-derived packing instances from
 * 50 to 30,000 VMs; per instance the lower bounds (L1, L2, best), then FFD, BFD, PABFD (and the
 * exact optimizer, see SOLVERS) with hosts used, migrations from the start placement, gap to the
 * bound and time. Prints a table and saves JSON to bench/results/optimize.json.
 * Options: --quick (up to 2,000 VMs; optimizer at 1 s and 10 s only), --json (print the JSON only),
 * --sizes=50,200 and --kinds=uniform,planetlab (choose), --out=NAME (save to bench/results/NAME.json),
 * --strategy=milp|lns|auto (the optimizer's, default auto), --repair (the repair benchmark instead,
 * see optimize-repair.ts; --repair-size=500x3000, --time-limit=S).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { boundGap, lowerBound } from '../src/policies/bounds/bounds.ts';
import {
  BASELINES,
  planetLabInstance,
  randomInstance,
  runHeuristic,
  type TraceDay,
} from '../src/policies/bounds/instances.ts';
import type { OptimizeResult, PackInstance, PackSolution } from '../src/policies/optimize/instance.ts';
import { formatTable } from '../src/cli/table.ts';
import { readPlanetLabDay } from '../src/sim/planetlab.ts';
import { highsPool } from '../src/drivers/highs/highs-pool.ts';
import { optimize } from '../src/policies/optimize/optimize.ts';
import { seededRandom } from '../src/runtime/random.ts';
import { repairBench } from './optimize-repair.ts';

const quick = process.argv.includes('--quick');
const json = process.argv.includes('--json');
const sizesArg = process.argv.find((a) => a.startsWith('--sizes='));
const kindsArg = process.argv
  .find((a) => a.startsWith('--kinds='))
  ?.slice(8)
  .split(',');
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const DAY = join(root, '../shared/data/planetlab/20110303');
/** The PlanetLab interval used (noon) and the one whose PABFD placement is the start (5 min before). */
const INTERVAL = 144;
const SIZES = sizesArg
  ? sizesArg.slice(8).split(',').map(Number)
  : quick
    ? [50, 200, 1000, 2000]
    : [50, 200, 1000, 5000, 30000];
const log = (s: string) => {
  if (!json) process.stderr.write(s + '\n');
};

/** An optimizer run after the baselines, warm-started from the best of them. */
interface Solver {
  name: string;
  /** Largest instance (VMs) it is run on. */
  maxVms?: number;
  run(inst: PackInstance, warm: PackSolution): Promise<OptimizeResult>;
}
// Long-lived workers: the LNS's sub-MILPs are many and small (2 for them, 1 for an LP bound beside).
const highs = highsPool({ size: 3 });
const now = () => performance.now() / 1000;
const strategy = (process.argv.find((a) => a.startsWith('--strategy='))?.slice(11) ?? 'auto') as
  'auto' | 'milp' | 'lns';
/** The optimizer (strategy auto: the MILP up to LNS_AUTO_THRESHOLD VMs, LNS above) at a time limit. */
const optimizer = (s: number): Solver => ({
  name: `${strategy === 'auto' ? 'opt' : strategy}-${s}s`,
  run: (inst, warm) =>
    optimize(inst, highs, {
      strategy,
      timeLimitS: s,
      start: warm.placement,
      knownBound: lowerBound(inst).hosts,
      now,
      random: seededRandom(14),
    }),
});
const SOLVERS: Solver[] = (quick ? [1, 10] : [1, 10, 60]).map(optimizer);

interface Row {
  instance: string;
  kind: string;
  vms: number;
  hosts: number;
  l1: number;
  l2: number;
  bound: number;
  winner: string;
  boundMs: number;
  results: {
    algo: string;
    hostsUsed?: number;
    migrations?: number;
    gap?: number;
    ms: number;
    status?: string;
    solverBound?: number;
    error?: string;
  }[];
}

let day: TraceDay | undefined;
function planetLab(vms: number, seed: number): PackInstance {
  day ??= readPlanetLabDay(DAY);
  // Start: the previous interval's PABFD placement (what a consolidation round finds in place).
  const before = planetLabInstance(day, { interval: INTERVAL - 1, vms, seed });
  const start = runHeuristic(before, 'pabfd').placement;
  const now = planetLabInstance(day, { interval: INTERVAL, vms, seed });
  return { ...now, vms: now.vms.map((v) => ({ ...v, hostId: start.get(v.id) })) };
}

const KINDS: [string, (vms: number, seed: number) => PackInstance][] = [
  ['uniform', (vms, seed) => randomInstance({ vms, seed, shape: 'uniform', start: true })],
  ['bimodal', (vms, seed) => randomInstance({ vms, seed, shape: 'bimodal', start: true })],
  // identical hosts: the bound does not favour the larger type
  [
    'bimodal-1type',
    (vms, seed) => randomInstance({ vms, seed, shape: 'bimodal', start: true, hostTypes: 1 }),
  ],
  // VMs of a quarter to three quarters of a host: L2 counts the ones above half
  ['large-1type', (vms, seed) => randomInstance({ vms, seed, shape: 'large', start: true, hostTypes: 1 })],
];
if (existsSync(DAY)) KINDS.push(['planetlab', planetLab]);
else log(`(no PlanetLab trace at ${DAY}: PlanetLab-derived instances skipped)`);

if (process.argv.includes('--repair')) {
  await repairBench({ quick, json, root, solver: highs, now, log });
  process.exit(0);
}

const rows: Row[] = [];
for (const vms of SIZES) {
  for (const [kind, make] of KINDS) {
    if (kindsArg && !kindsArg.includes(kind)) continue;
    const inst = make(vms, 14);
    const t0 = performance.now();
    const lb = lowerBound(inst);
    const boundMs = performance.now() - t0;
    const row: Row = {
      instance: `${kind}-${vms}`,
      kind,
      vms,
      hosts: inst.hosts.length,
      l1: lb.l1.value,
      l2: lb.l2.value,
      bound: lb.hosts,
      winner: `${lb.winner.bound}:${lb.winner.dim}`,
      boundMs: Math.round(boundMs * 10) / 10,
      results: [],
    };
    let warm: PackSolution | undefined;
    for (const h of BASELINES) {
      const t = performance.now();
      try {
        const s = runHeuristic(inst, h);
        if (!warm || s.hostsUsed < warm.hostsUsed) warm = s;
        row.results.push({
          algo: h,
          hostsUsed: s.hostsUsed,
          migrations: s.migrations,
          gap: boundGap(s.hostsUsed, lb.hosts),
          ms: Math.round(performance.now() - t),
        });
      } catch (e) {
        row.results.push({ algo: h, ms: Math.round(performance.now() - t), error: (e as Error).message });
      }
    }
    for (const solver of SOLVERS) {
      if (!warm || vms > (solver.maxVms ?? Infinity)) continue;
      const t = performance.now();
      try {
        const r = await solver.run(inst, warm);
        const used = r.incumbent?.hostsUsed;
        row.results.push({
          algo: solver.name,
          hostsUsed: used,
          migrations: r.incumbent?.migrations,
          // hosts ≥ ⌈bound − 0.5⌉: the migration term of the objective is below 0.5
          gap:
            used === undefined
              ? undefined
              : boundGap(used, Math.max(lb.hosts, Math.ceil(r.bound - 0.5 - 1e-9))),
          ms: Math.round(performance.now() - t),
          status: r.status,
          solverBound: r.bound,
        });
      } catch (e) {
        row.results.push({
          algo: solver.name,
          ms: Math.round(performance.now() - t),
          error: (e as Error).message,
        });
      }
    }
    rows.push(row);
    log(
      `${row.instance.padEnd(16)} hosts ${String(row.hosts).padStart(6)}  L1 ${String(row.l1).padStart(6)}  L2 ${String(row.l2).padStart(6)}  bound ${String(row.bound).padStart(6)} (${row.winner}, ${row.boundMs} ms)`,
    );
    for (const r of row.results)
      log(
        r.error
          ? `    ${r.algo.padEnd(10)} error: ${r.error}`
          : `    ${r.algo.padEnd(10)} hosts ${String(r.hostsUsed).padStart(6)}  gap ${((r.gap ?? 0) * 100).toFixed(1).padStart(5)} %  migrations ${String(r.migrations).padStart(6)}  ${String(r.ms).padStart(7)} ms${r.status ? `  ${r.status}, bound ${r.solverBound?.toFixed(2)}` : ''}`,
      );
  }
}

const out = { quick, interval: INTERVAL, solvers: SOLVERS.map((s) => s.name), rows };
mkdirSync(join(root, 'bench/results'), { recursive: true });
const outArg = process.argv.find((a) => a.startsWith('--out='))?.slice(6);
const file = join(root, 'bench/results', `${outArg ?? (quick ? 'optimize-quick' : 'optimize')}.json`);
writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
if (json) console.log(JSON.stringify(out, null, 2));
else {
  console.log(
    formatTable(
      [
        'instance',
        'VMs',
        'hosts',
        'L1',
        'L2',
        'bound',
        'won',
        'algorithm',
        'used',
        'gap %',
        'migrations',
        'ms',
      ],
      rows.flatMap((r) =>
        r.results.map((x, i) => [
          i ? '' : r.instance,
          i ? '' : r.vms,
          i ? '' : r.hosts,
          i ? '' : r.l1,
          i ? '' : r.l2,
          i ? '' : r.bound,
          i ? '' : r.winner,
          x.algo,
          x.error ? 'error' : (x.hostsUsed ?? '-'),
          x.gap === undefined ? '-' : (x.gap * 100).toFixed(1),
          x.migrations ?? '-',
          x.ms,
        ]),
      ),
      [false, true, true, true, true, true, false, false, true, true, true, true],
    ),
  );
  log(`saved ${file}`);
}
