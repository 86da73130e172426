/** `nubis simulation …`: simulation runs kept by the server (`nubis sim` runs one here, locally). */
import type { Command } from 'commander';
import { formatTable } from '../table.ts';
import { collect, ctx, int, resourceCommand, type CommandModule } from './common.ts';

/** simulation list, show, start. */
export const simulationCommands: CommandModule = (program) => {
  const sim = resourceCommand(program, 'simulation', 'Simulation runs on the server (admins and operators)');
  sim
    .command('list')
    .description('Saved and running runs')
    .action(async function (this: Command) {
      const c = ctx(this);
      const list = await c.client.simulations.list();
      c.out(list, () =>
        formatTable(
          ['name', 'status', 'engine', 'scenario', 'policies', 'created'],
          list.map((r) => [
            r.name,
            r.status,
            r.engine ?? '',
            r.scenario ?? '',
            r.policies.join(' '),
            r.createdAt,
          ]),
        ),
      );
    });
  sim
    .command('show <name>')
    .description("A run's result rows (its status while it runs)")
    .action(async function (this: Command, name: string) {
      const c = ctx(this);
      const r = await c.client.simulations.get(name);
      c.out(r, () => {
        const rows = r.rows ?? [];
        const cols = ['day', 'policy', 'energyKWh', 'migrations', 'slav', 'hostShutdowns'].filter((k) =>
          rows.some((x) => k in x),
        );
        return `${r.name}: ${r.status}${r.error ? ` — ${r.error}` : ''}${
          rows.length
            ? '\n' +
              formatTable(
                cols,
                rows.map((x) => cols.map((k) => x[k] ?? '')),
              )
            : ''
        }`;
      });
    });
  sim
    .command('start')
    .description('Start a run on the server; follow it with `nubis simulation show NAME`')
    .requiredOption(
      '--scenario <scenario>',
      'a built-in scenario (planetlab, synthetic) or a file the server can read',
    )
    .requiredOption('--policy <policy>', 'a policy to compare (repeatable)', collect, [])
    .option('--name <name>', 'the run name (default: from the time)')
    .option('--trace <dir>', 'a trace folder on the server')
    .option('--mode <mode>', 'cloudsim or default')
    .option('--engine <engine>', 'simulator or control-plane')
    .option('--limit-vms <n>', 'at most this many VMs', int)
    .option('--hosts <n>', 'hosts', int)
    .action(async function (this: Command, o) {
      const c = ctx(this);
      const r = await c.client.simulations.start({
        name: o.name,
        scenario: o.scenario,
        trace: o.trace,
        policies: o.policy,
        mode: o.mode,
        engine: o.engine,
        limitVms: o.limitVms,
        hosts: o.hosts,
      });
      c.out(r, () => `${r.name}: ${r.status}`);
    });
};
