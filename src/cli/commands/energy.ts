/** `nubis energy`: metered energy by host, zone or tenant (also `nubis usage energy`). */
import type { Command } from 'commander';
import { formatTable } from '../table.ts';
import { CliError, ctx, withConnection, type CommandModule } from './common.ts';

const BY = ['host', 'zone', 'tenant'] as const;

/** Adds the options and action of the energy report to `cmd`. */
export function energyReport(cmd: Command): Command {
  return cmd
    .description('Metered energy by host, zone or tenant over whole UTC days (IT and × PUE)')
    .requiredOption('--from <day>', 'first day, YYYY-MM-DD')
    .requiredOption('--to <day>', 'last day, YYYY-MM-DD')
    .option('--by <what>', BY.join(', '), 'tenant')
    .action(async function (this: Command, o: { from: string; to: string; by: string }) {
      const c = ctx(this);
      if (!(BY as readonly string[]).includes(o.by))
        throw new CliError('BAD_ARGUMENT', `--by must be one of ${BY.join(', ')}, got "${o.by}"`);
      const r = await c.client.energy.report({ from: o.from, to: o.to, by: o.by as (typeof BY)[number] });
      c.out(r, () =>
        formatTable(
          [o.by, 'IT kWh', `facility kWh (PUE ${r.pue})`],
          [
            ...r.rows.map((x) => [x.name, x.itKWh.toFixed(3), x.facilityKWh.toFixed(3)]),
            ['total', r.totals.itKWh.toFixed(3), r.totals.facilityKWh.toFixed(3)],
          ],
          [false, true, true],
        ),
      );
    });
}

/** energy (one command: the report). */
export const energyCommands: CommandModule = (program) => {
  energyReport(withConnection(program.command('energy')));
};
