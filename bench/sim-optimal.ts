/**
 * `npm run bench:sim-optimal`: a simulated PlanetLab day (20110303, default mode) with the exact
 * optimizer as the consolidation policy (`optimal[:NODES]`) against LR-MMT-1.2 and the DVFS and NPA
 * baselines: energy, migrations, SLATAH/PDM/SLAV, hosts on over the day, CPU time, and the
 * optimizer's rounds (proven optimal, improved on the warm start).
 * Options: --vms N (first N trace files, default 100), --hosts N (default 0.76·N, the reference
 * experiment's 800/1052), --policy P (the optimal policy, default optimal), --free N (VMs freed per
 * round, default 30), --json.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { highsSyncSolver } from '../src/drivers/highs/highs-sync.ts';
import type { OptimalRound } from '../src/policies/optimize/sim-consolidation.ts';
import { runExperiment } from '../src/sim/run.ts';
import { PLANETLAB_SCENARIO } from '../src/sim/scenario.ts';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : dflt;
};
const json = process.argv.includes('--json');
const vms = Number(arg('vms', '100'));
const hosts = Number(arg('hosts', String(Math.round(vms * (800 / 1052)))));
const optimal = arg('policy', 'optimal');
const free = Number(arg('free', '30'));
const DAY = join(dirname(fileURLToPath(import.meta.url)), '../../shared/data/planetlab/20110303');
const milp = await highsSyncSolver();

const rows: Record<string, unknown>[] = [];
for (const policy of [optimal, 'lr-mmt:1.2', 'dvfs', 'npa']) {
  const rounds: OptimalRound[] = [];
  const cpu0 = process.cpuUsage();
  const out = runExperiment({
    scenario: { ...PLANETLAB_SCENARIO, workload: { type: 'planetlab', limitVms: vms } },
    days: [DAY],
    policies: [policy],
    mode: 'default',
    hosts,
    milp,
    optimalFreeVms: free,
    onOptimalRound: (r) => rounds.push(r),
  });
  const cpu = process.cpuUsage(cpu0);
  const r = out.rows[0]!;
  const on = [...out.series.values()][0]!.activeHosts;
  const row = {
    policy,
    vms: r.vms,
    hosts: r.hosts,
    energyKWh: Number(r.energyKWh.toFixed(3)),
    migrations: r.migrations,
    slatahPct: Number((r.slatah * 100).toFixed(3)),
    pdmPct: Number((r.pdm * 100).toFixed(4)),
    slavPct: Number((r.slav * 100).toFixed(6)),
    hostsOnMean: Number((on.reduce((a, b) => a + b, 0) / Math.max(1, on.length)).toFixed(1)),
    hostsOnMin: Math.min(...on),
    hostsOnMax: Math.max(...on),
    cpuS: Number(((cpu.user + cpu.system) / 1e6).toFixed(1)),
    rounds: rounds.length || undefined,
    roundsProven: rounds.length ? rounds.filter((x) => x.result?.status === 'optimal').length : undefined,
    roundsImproved: rounds.length ? rounds.filter((x) => x.result?.source === 'solver').length : undefined,
    meanFreed: rounds.length
      ? Number((rounds.reduce((s, x) => s + x.freed, 0) / rounds.length).toFixed(1))
      : undefined,
  };
  rows.push(row);
  if (!json) console.log(JSON.stringify(row));
}
if (json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
else {
  console.log(
    '\n| policy | energy kWh | migrations | SLATAH % | PDM % | SLAV % | hosts on (mean, min–max) | CPU s |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows)
    console.log(
      `| ${r.policy} | ${r.energyKWh} | ${r.migrations} | ${r.slatahPct} | ${r.pdmPct} | ${r.slavPct} | ${r.hostsOnMean} (${r.hostsOnMin}–${r.hostsOnMax}) | ${r.cpuS} |`,
    );
}
