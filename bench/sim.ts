/**
 * `npm run bench:sim`: wall time, steps per second and peak memory of the simulator on
 *  1. PlanetLab 20110303 with lr-mmt:1.2 in cloudsim mode (the run CloudSim 4.0 does in ~55 CPU-s, 1.1 GB),
 *  2. the same in default mode,
 *  3. a synthetic day with 20,000 hosts and 40,000 VMs (default mode).
 * Options: --quick (synthetic day with 4,000 hosts and 8,000 VMs), --json.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runExperiment } from '../src/sim/run.ts';
import { parseScenario, PLANETLAB_SCENARIO } from '../src/sim/scenario.ts';

const quick = process.argv.includes('--quick');
const json = process.argv.includes('--json');
const DAY = join(dirname(fileURLToPath(import.meta.url)), '../../shared/data/planetlab/20110303');
const CLOUDSIM_CPU_S = 55;

const results: Record<string, unknown>[] = [];
function bench(name: string, f: () => ReturnType<typeof runExperiment>) {
  const rssBefore = process.memoryUsage().rss;
  let peak = rssBefore;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  const t0 = performance.now();
  const out = f();
  const wallMs = performance.now() - t0;
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().rss);
  const row = out.rows[0]!;
  const r = {
    name,
    hosts: row.hosts,
    vms: row.vms,
    steps: row.steps,
    wallMs: Math.round(wallMs),
    stepsPerS: Math.round((row.steps / wallMs) * 1000),
    peakRssMiB: Math.round(peak / 2 ** 20),
    energyKWh: Number(row.energyKWh.toFixed(3)),
    migrations: row.migrations,
  };
  results.push(r);
  if (!json)
    console.log(
      `${name.padEnd(44)} ${String(r.wallMs).padStart(7)} ms  ${String(r.stepsPerS).padStart(6)} steps/s  peak RSS ${r.peakRssMiB} MiB  (${r.hosts} hosts, ${r.vms} VMs, ${r.migrations} migrations)`,
    );
  return r;
}

// Warm-up so the first measurement is not mostly JIT compilation.
runExperiment({
  scenario: { ...PLANETLAB_SCENARIO, workload: { type: 'planetlab', limitVms: 200 } },
  days: [DAY],
  policies: ['lr-mmt:1.2'],
  mode: 'cloudsim',
  hosts: 150,
});

const cs = bench('20110303 lr-mmt:1.2 cloudsim', () =>
  runExperiment({ scenario: PLANETLAB_SCENARIO, days: [DAY], policies: ['lr-mmt:1.2'], mode: 'cloudsim' }),
);
bench('20110303 lr-mmt:1.2 default', () =>
  runExperiment({ scenario: PLANETLAB_SCENARIO, days: [DAY], policies: ['lr-mmt:1.2'], mode: 'default' }),
);
const hosts = quick ? 4000 : 20000;
const syn = parseScenario(
  {
    ...PLANETLAB_SCENARIO,
    name: 'synthetic-bench',
    hostTypes: PLANETLAB_SCENARIO.hostTypes.map((t) => ({ ...t, count: hosts / 2 })),
    workload: { type: 'synthetic', vms: hosts * 2, seed: 1 },
  },
  'bench',
);
bench(`synthetic ${hosts} hosts lr-mmt:1.2 default`, () =>
  runExperiment({ scenario: syn, days: [], policies: ['lr-mmt:1.2'], mode: 'default' }),
);
if (json) console.log(JSON.stringify(results, null, 2));
else
  console.log(
    `\nspeed-up over CloudSim 4.0 on 20110303 lr-mmt:1.2 (~${CLOUDSIM_CPU_S} CPU-s): ${((CLOUDSIM_CPU_S * 1000) / (cs.wallMs as number)).toFixed(0)}x`,
  );
