/** `nubis metrics …`: measured CPU utilization of VMs (monitoring systems for simulated hosts; agents send their own). */
import type { Command } from 'commander';
import { CliError, ctx, numberOf, pair, resourceCommand, vmId, type CommandModule } from './common.ts';

/** metrics report. */
export const metricsCommands: CommandModule = (program) => {
  const metrics = resourceCommand(program, 'metrics', 'Measured VM utilization (admins and operators)');
  metrics
    .command('report <samples...>')
    .description("Report VMs' CPU utilization, each as VM=UTIL with UTIL in 0..1 (e.g. web-1=0.35)")
    .action(async function (this: Command, samples: string[]) {
      const c = ctx(this);
      const parsed = await Promise.all(
        samples.map(async (s) => {
          const [vm, v] = pair(s, 'a sample');
          const cpu = numberOf(v, s);
          if (cpu < 0 || cpu > 1) throw new CliError('BAD_ARGUMENT', `${s}: utilization must be in 0..1`);
          return { vm: await vmId(c, vm), cpu };
        }),
      );
      const r = await c.client.metrics.record(parsed);
      c.out(
        r,
        () => `recorded ${r.recorded}${r.unknown.length ? `; unknown VMs: ${r.unknown.join(', ')}` : ''}`,
      );
    });
};
