/**
 * `npm run bench:ops`: wall time, steps per second and peak memory of `nubis sim --engine
 * control-plane` (the control plane's own automation on simulated hosts, in-memory SQLite) on the
 * ops-demo scenario (12 hosts, 60 VMs, one day) and on a larger one (60 hosts, 300 VMs).
 * Options: --quick (ops-demo only), --json.
 */
import { runOpsInProcess } from '../src/sim/ops-run.ts';
import { OPS_PRESETS, parseOpsScenario } from '../src/sim/ops-scenario.ts';

const quick = process.argv.includes('--quick');
const json = process.argv.includes('--json');
const demo = OPS_PRESETS['ops-demo']!;
const cases = [
  { name: 'ops-demo lr-mmt:1.2 (12 hosts, 60 VMs, 1 day)', s: demo },
  ...(quick
    ? []
    : [
        {
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
const out: Record<string, unknown>[] = [];
for (const c of cases) {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  const t0 = performance.now();
  const r = await runOpsInProcess(c.s);
  const wallMs = performance.now() - t0;
  clearInterval(timer);
  const steps = r.series.timeS.length;
  const row = {
    name: c.name,
    wallMs: Math.round(wallMs),
    stepsPerS: Number(((steps / wallMs) * 1000).toFixed(1)),
    peakRssMiB: Math.round(Math.max(peak, process.memoryUsage().rss) / 2 ** 20),
    energyKWh: Number(r.energyKWh.toFixed(2)),
    migrations: r.migrations,
    powerOffs: r.powerOffs,
    haRestarts: r.haRestarts,
    meanHostsOn: Number(r.meanActiveHosts.toFixed(1)),
  };
  out.push(row);
  if (!json)
    console.log(
      `${row.name.padEnd(48)} ${String(row.wallMs).padStart(7)} ms  ${String(row.stepsPerS).padStart(6)} steps/s  peak RSS ${row.peakRssMiB} MiB  (${row.migrations} migrations, ${row.powerOffs} power-offs, ${row.meanHostsOn} hosts on)`,
    );
}
if (json) console.log(JSON.stringify(out, null, 2));
