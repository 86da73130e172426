/** Per-step series as CSV: one row per day, policy and step. */
import type { RunOutput } from './run.ts';

export function seriesCsv(out: RunOutput): string {
  const lines = ['day,policy,step,time_s,active_hosts,power_w,sla_violation,migrations,energy_kwh'];
  for (const [key, s] of out.series) {
    const [day, policy] = key.split('|');
    const q = (x: string) => (/[",\n]/.test(x) ? `"${x.replace(/"/g, '""')}"` : x);
    for (let i = 0; i < s.timeS.length; i++) {
      lines.push(
        [
          q(day!),
          q(policy!),
          i + 1,
          s.timeS[i],
          s.activeHosts[i],
          s.powerW[i]!.toFixed(3),
          s.slaViolation[i]!.toFixed(6),
          s.migrations[i],
          s.energyKWh[i]!.toFixed(6),
        ].join(','),
      );
    }
  }
  return lines.join('\n') + '\n';
}
