/** `nubis plan …`: consolidation plans (admins and operators). */
import type { Command } from 'commander';
import type { PlanAction, PlanProposal } from '../../client/index.ts';
import { formatTable } from '../table.ts';
import {
  collect,
  ctx,
  defined,
  int,
  num,
  OperationFailedError,
  pair,
  resourceCommand,
  type CommandModule,
} from './common.ts';

const costGain = (a: PlanAction) =>
  a.type === 'migrate'
    ? `${a.cost.timeS.toFixed(1)} s, ${a.cost.dataMiB.toFixed(0)} MiB${a.gain?.loadMoved !== undefined ? `; moves ${(a.gain.loadMoved * 100).toFixed(0)} % of the host's CPU` : ''}`
    : a.type === 'power-on'
      ? `adds ${a.cost.watts.toFixed(0)} W`
      : `saves ${a.gain.wattsSaved.toFixed(0)} W`;

/** A plan as a person reads it: status, summary, one row per action with why and cost or gain. */
export const showPlan = (r: PlanProposal) =>
  `plan ${r.id ?? '(none)'}: ${r.status}${r.zone ? ` (zone ${r.zone})` : ''}\n${r.summary}` +
  (r.actions.length
    ? '\n' +
      (r.makespanS !== undefined
        ? formatTable(
            ['#', 'start', 'duration', 'after', 'action', 'what', 'why', 'cost / gain'],
            r.actions.map((a, i) => [
              i + 1,
              `${(a.startS ?? 0).toFixed(1)} s`,
              `${(a.durationS ?? 0).toFixed(1)} s`,
              (a.after ?? []).map((d) => d + 1).join(' '),
              a.type,
              a.type === 'migrate' ? a.vmName : a.hostName,
              a.reason,
              costGain(a),
            ]),
          ) +
          `\nmakespan ${r.makespanS.toFixed(1)} s (every action at its start, within the migration limits)`
        : formatTable(
            ['#', 'action', 'what', 'why', 'cost / gain'],
            r.actions.map((a, i) => [
              i + 1,
              a.type,
              a.type === 'migrate' ? a.vmName : a.hostName,
              a.reason,
              costGain(a),
            ]),
          ))
    : '') +
  (r.result ? `\nresult: ${JSON.stringify(r.result)}` : '');

/** plan audit, list, show, apply, discard. */
export const planCommands: CommandModule = (program) => {
  const plan = resourceCommand(program, 'plan', 'Consolidation plans (admins and operators)');
  plan
    .command('audit')
    .description(
      'Propose a plan from the live state (reservation packing, a load-aware preset such as lr-mmt:1.2, or your own moves)',
    )
    .option('--spare-hosts <n>', 'hosts kept on, empty', int)
    .option('--hold-down-s <s>', 'VMs moved less than this long ago stay', num)
    .option(
      '--payback-horizon-s <s>',
      'a host is emptied only if the energy saved pays back within this',
      num,
    )
    .option('--power-off-grace-s <s>', 'seconds a host must have been empty before it is switched off', num)
    .option(
      '--policy <preset>',
      'reservation (default), optimal (exact optimizer: bound and gap in the summary), or DETECTOR-SELECTION[:PARAM], e.g. lr-mmt:1.2',
    )
    .option('--time-limit <s>', 'seconds the optimal policy may search (default 10)', num)
    .option('--zone <zone>', 'only this zone (cluster)')
    .option(
      '--move <vm=host>',
      'a move you want (repeatable); ordered so every step fits, cycles routed through a free host',
      collect,
      [],
    )
    .action(async function (this: Command, o) {
      const c = ctx(this);
      const moves = (o.move as string[]).map((m) => pair(m, '--move')).map(([vm, to]) => ({ vm, to }));
      const r = await c.client.plans.audit(
        defined({
          spareHosts: o.spareHosts,
          holdDownS: o.holdDownS,
          paybackHorizonS: o.paybackHorizonS,
          powerOffGraceS: o.powerOffGraceS,
          policy: o.policy,
          timeLimitS: o.timeLimit,
          zone: o.zone,
          moves: moves.length ? moves : undefined,
        }),
      );
      c.out(r, () => showPlan(r));
    });
  plan
    .command('list')
    .description('Recent plans')
    .action(async function (this: Command) {
      const c = ctx(this);
      const list = await c.client.plans.list();
      c.out(list, () =>
        formatTable(
          ['id', 'status', 'zone', 'created', 'summary'],
          list.map((r) => [r.id, r.status, r.zone ?? '', r.createdAt, r.summary]),
        ),
      );
    });
  plan
    .command('show <id>')
    .description("Show a plan with each action's start, duration, reason, cost and gain, and its makespan")
    .action(async function (this: Command, id: string) {
      const c = ctx(this);
      const r = await c.client.plans.get(id);
      c.out(r, () => showPlan(r));
    });
  plan
    .command('apply <id>')
    .description('Apply a proposed plan in waves within the migration limits')
    .option('--max-migrations-per-host <n>', 'concurrent migrations per host', int)
    .option('--max-migrations-per-cluster <n>', 'concurrent migrations in the zone', int)
    .action(async function (this: Command, id: string, o) {
      const c = ctx(this);
      const limits = defined({
        maxMigrationsPerHost: o.maxMigrationsPerHost,
        maxMigrationsPerCluster: o.maxMigrationsPerCluster,
      });
      const r = await c.client.plans.apply(id, Object.keys(limits).length ? limits : undefined);
      c.out(r, () => showPlan(r));
      if (r.status === 'failed') {
        const f = r.result?.failed;
        throw new OperationFailedError(
          `plan ${id} failed${f ? ` at action ${f.action}: ${f.error}` : ''}`.replace(/\s*\n\s*/g, ' '),
        );
      }
    });
  plan
    .command('discard <id>')
    .description('Discard a proposed plan')
    .action(async function (this: Command, id: string) {
      const c = ctx(this);
      const r = await c.client.plans.discard(id);
      c.out(r, () => showPlan(r));
    });
};
