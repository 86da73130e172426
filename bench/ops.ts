/**
 * `npm run bench:ops`: wall time, steps per second (wall and CPU) and peak memory of `nubis sim
 * --engine control-plane` (the control plane's own automation on simulated hosts, in-memory SQLite)
 * on the ops-demo scenario (12 hosts, 60 VMs, one day) and on a larger one (60 hosts, 300 VMs), with
 * the ratio to the figures before issue 15's engine work (BASELINE). The 2-core machines are shared:
 * wall figures swing with the load, steps per CPU-second much less; compare ratios.
 * It also counts the SQL statements the replay ran (kysely's, all stores of the process).
 * Options: --quick (ops-demo only), --json (one JSON array of rows as the last line).
 */
import { storeStats } from '../src/control/store/open-store.ts';
import { runOpsInProcess } from '../src/sim/ops-run.ts';
import { OPS_PRESETS, parseOpsScenario } from '../src/sim/ops-scenario.ts';

/**
 * Before the engine work: main at 351f6c1 with this file, `node bench/run.mjs ops.ts --json`,
 * 2026-12-01 00:16 and 00:18 UTC (mean of two runs alternated with runs of the work, on a 2-core
 * machine loaded by six other sessions: wall 42-61 s for the larger case, 14.3-15.8 CPU-s). On an
 * idle machine README gave 10.5 s for the larger case (27.5 steps/s).
 */
const BASELINE: Record<string, { stepsPerS: number; stepsPerCpuS: number }> = {
  'ops-demo': { stepsPerS: 26.2, stepsPerCpuS: 86.3 },
  larger: { stepsPerS: 5.8, stepsPerCpuS: 19.3 },
};

const quick = process.argv.includes('--quick');
const json = process.argv.includes('--json');
const demo = OPS_PRESETS['ops-demo']!;
const cases = [
  { key: 'ops-demo', name: 'ops-demo lr-mmt:1.2 (12 hosts, 60 VMs, 1 day)', s: demo },
  ...(quick
    ? []
    : [
        {
          key: 'larger',
          name: 'larger lr-mmt:1.2 (60 hosts, 300 VMs, 1 day)',
          s: parseOpsScenario({
            ...demo,
            name: 'larger',
            hosts: [{ count: 60, vcpus: 16, memoryMiB: 65536 }],
            workload: { type: 'synthetic', vms: 300, seed: 7, medianPercent: 20 },
          }),
        },
      ]),
];
const ratio = (x: number, base: number) => (base > 0 ? Number((x / base).toFixed(2)) : undefined);
const rows: Record<string, unknown>[] = [];
for (const c of cases) {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const statements0 = storeStats.statements;
  const r = await runOpsInProcess(c.s);
  const statements = storeStats.statements - statements0;
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - t0;
  const cpuMs = (cpu.user + cpu.system) / 1000;
  clearInterval(timer);
  const steps = r.series.timeS.length;
  const stepsPerS = Number(((steps / wallMs) * 1000).toFixed(1));
  const stepsPerCpuS = Number(((steps / cpuMs) * 1000).toFixed(1));
  const base = BASELINE[c.key]!;
  const results = {
    energyKWh: Number(r.energyKWh.toFixed(2)),
    migrations: r.migrations,
    powerOffs: r.powerOffs,
    haRestarts: r.haRestarts,
    meanHostsOn: Number(r.meanActiveHosts.toFixed(1)),
  };
  const peakRssMiB = Math.round(Math.max(peak, process.memoryUsage().rss) / 2 ** 20);
  rows.push(
    {
      name: c.name,
      metric: 'steps/s',
      value: stepsPerS,
      unit: 'steps/s',
      baseline: base.stepsPerS,
      ratio: ratio(stepsPerS, base.stepsPerS),
      wallMs: Math.round(wallMs),
      peakRssMiB,
      ...results,
    },
    {
      name: c.name,
      metric: 'steps per CPU-second',
      value: stepsPerCpuS,
      unit: 'steps/s',
      baseline: base.stepsPerCpuS,
      ratio: ratio(stepsPerCpuS, base.stepsPerCpuS),
      cpuMs: Math.round(cpuMs),
      sqlStatements: statements,
    },
  );
  if (!json)
    console.log(
      `${c.name.padEnd(48)} ${String(Math.round(wallMs)).padStart(7)} ms  ${String(stepsPerS).padStart(6)} steps/s (before ${base.stepsPerS}, ×${ratio(stepsPerS, base.stepsPerS)})  ${String(stepsPerCpuS).padStart(6)} steps/CPU-s (before ${base.stepsPerCpuS}, ×${ratio(stepsPerCpuS, base.stepsPerCpuS)})  peak RSS ${peakRssMiB} MiB  ${statements} SQL statements  (${results.migrations} migrations, ${results.powerOffs} power-offs, ${results.haRestarts} HA restarts, ${results.energyKWh} kWh, ${results.meanHostsOn} hosts on)`,
    );
}
if (json) console.log(JSON.stringify(rows));
