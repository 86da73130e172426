/** `nubis automation …`: automation levels and audit policy per data center or zone. */
import type { Command } from 'commander';
import type { AutomationLevel } from '../../client/index.ts';
import { formatTable } from '../table.ts';
import { CliError, ctx, int, num, resourceCommand, type CommandModule } from './common.ts';
import { showPlan } from './plan.ts';

const LEVELS: AutomationLevel[] = ['manual', 'partial', 'full'];

/** automation show, set, round. */
export const automationCommands: CommandModule = (program) => {
  const auto = resourceCommand(
    program,
    'automation',
    'Automation: manual, partial (propose) or full (apply)',
  );
  auto
    .command('show')
    .description("The data center's and every zone's automation settings")
    .action(async function (this: Command) {
      const c = ctx(this);
      const a = await c.client.automation.get();
      c.out(a, () =>
        formatTable(
          [
            'scope',
            'level',
            'policy',
            'spare hosts',
            'power-off grace s',
            'max migr./host',
            'max migr./cluster',
          ],
          [
            ['data center', a.global] as const,
            ...Object.entries(a.zones).map(([z, s]) => [`zone ${z}`, s] as const),
          ].map(([scope, s]) => [
            scope,
            s.level,
            s.policy ?? '',
            s.spareHosts ?? '',
            s.powerOffGraceS ?? '',
            s.maxMigrationsPerHost ?? '',
            s.maxMigrationsPerCluster ?? '',
          ]),
        ),
      );
    });
  auto
    .command('set <level>')
    .description(`Set the level (${LEVELS.join(', ')}) and settings of the data center or one zone (admin)`)
    .option('--zone <zone>', 'only this zone')
    .option(
      '--policy <preset>',
      'audit policy: reservation, optimal, spread[:GAP] or a preset such as lr-mmt:1.2',
    )
    .option('--spare-hosts <n>', 'hosts kept on, empty', int)
    .option('--power-off-grace-s <s>', 'seconds a host must have been empty before it is switched off', num)
    .option('--max-migrations-per-host <n>', 'concurrent migrations per host', int)
    .option('--max-migrations-per-cluster <n>', 'concurrent migrations per zone', int)
    .action(async function (this: Command, level: string, o) {
      const c = ctx(this);
      if (!LEVELS.includes(level as AutomationLevel))
        throw new CliError('BAD_ARGUMENT', `level must be one of ${LEVELS.join(', ')}, got "${level}"`);
      const r = await c.client.automation.set({
        automation: level as AutomationLevel,
        zone: o.zone,
        policy: o.policy,
        spareHosts: o.spareHosts,
        powerOffGraceS: o.powerOffGraceS,
        maxMigrationsPerHost: o.maxMigrationsPerHost,
        maxMigrationsPerCluster: o.maxMigrationsPerCluster,
      });
      c.out(r, () => `${r.zone ? `zone ${r.zone}` : 'data center'}: ${r.automation}`);
    });
  auto
    .command('round')
    .description('Run one automation round now in every zone that is not manual (admins and operators)')
    .action(async function (this: Command) {
      const c = ctx(this);
      const r = await c.client.automation.runRound();
      c.out(r, () => (r.plans.length ? r.plans.map(showPlan).join('\n\n') : 'no zone is automated'));
    });
};
