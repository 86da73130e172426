/** `nubis constraint …`: placement constraints (affinity, anti-affinity, fence, ban, max per host, spread). */
import type { Command } from 'commander';
import type { ConstraintCreate, ConstraintType } from '../../client/index.ts';
import { formatTable } from '../table.ts';
import { CliError, collect, ctx, int, pair, resourceCommand, type CommandModule } from './common.ts';

const TYPES: ConstraintType[] = ['affinity', 'anti-affinity', 'fence', 'ban', 'max-per-host', 'spread'];
const DOMAINS = ['rack', 'zone', 'datacenter'] as const;
const ATTRS = ['zone', 'rack', 'tier', 'datacenter'];

/** constraint list, show, create, delete. */
export const constraintCommands: CommandModule = (program) => {
  const group = resourceCommand(program, 'constraint', 'Placement constraints: where VMs may run');
  group
    .command('list')
    .description("List constraints (your tenant's; all for admins and operators) and what breaks them now")
    .action(async function (this: Command) {
      const c = ctx(this);
      const list = await c.client.constraints.list();
      c.out(list, () =>
        formatTable(
          ['name', 'type', 'hard', 'VMs', 'broken now'],
          list.map((x) => [
            x.name,
            x.type,
            x.hard ? 'yes' : 'soft',
            x.vms.map((v) => v.name).join(', '),
            x.violations.length ? x.violations.join('; ') : '-',
          ]),
        ),
      );
    });
  group
    .command('show <constraint>')
    .description('One constraint (name or id)')
    .action(async function (this: Command, ref: string) {
      const c = ctx(this);
      const x = await c.client.constraints.get(ref);
      c.out(x, () =>
        [
          `${x.label} (id ${x.id})`,
          `VMs: ${x.vms.map((v) => v.name).join(', ') || '-'}`,
          ...(x.hosts ? [`hosts: ${x.hosts.join(', ')}`] : []),
          ...(x.where
            ? [
                `where: ${Object.entries(x.where)
                  .map(([k, v]) => `${k}=${v}`)
                  .join(', ')}`,
              ]
            : []),
          ...(x.max !== undefined ? [`max per host: ${x.max}`] : []),
          ...(x.over ? [`spread over: ${x.over} (at most ${x.maxPerDomain ?? 1} per ${x.over})`] : []),
          x.violations.length ? `broken now: ${x.violations.join('; ')}` : 'holds now',
        ].join('\n'),
      );
    });
  group
    .command('create <name>')
    .description(
      'Create a constraint over VMs (names or ids); new VMs join it with `vm create --constraint NAME`',
    )
    .requiredOption('--type <type>', TYPES.join(', '))
    .option('--vm <vm>', 'a VM it is about (repeatable)', collect)
    .option('--soft', 'a preference that is scored, never a refusal')
    .option('--host <host>', 'fence/ban: a host (repeatable; admins and operators)', collect)
    .option(
      '--where <attr=value>',
      `fence/ban: hosts with this attribute (${ATTRS.join(', ')}; repeatable)`,
      collect,
    )
    .option('--max <n>', 'max-per-host: at most this many of the VMs on one host', int)
    .option('--over <domain>', `spread: ${DOMAINS.join(', ')}`)
    .option('--max-per-domain <n>', 'spread: at most this many per domain (1)', int)
    .action(async function (
      this: Command,
      name: string,
      o: {
        type: string;
        vm?: string[];
        soft?: boolean;
        host?: string[];
        where?: string[];
        max?: number;
        over?: string;
        maxPerDomain?: number;
      },
    ) {
      const c = ctx(this);
      if (!TYPES.includes(o.type as ConstraintType))
        throw new CliError('BAD_ARGUMENT', `--type must be one of ${TYPES.join(', ')}, got "${o.type}"`);
      if (o.over && !(DOMAINS as readonly string[]).includes(o.over))
        throw new CliError('BAD_ARGUMENT', `--over must be one of ${DOMAINS.join(', ')}, got "${o.over}"`);
      const where = Object.fromEntries((o.where ?? []).map((w) => pair(w, '--where')));
      for (const k of Object.keys(where))
        if (!ATTRS.includes(k))
          throw new CliError('BAD_ARGUMENT', `--where takes ${ATTRS.join(', ')}, got "${k}"`);
      const body: ConstraintCreate = {
        name,
        type: o.type as ConstraintType,
        hard: !o.soft,
        vms: o.vm ?? [],
        ...(o.host ? { hosts: o.host } : {}),
        ...(Object.keys(where).length ? { where } : {}),
        ...(o.max !== undefined ? { max: o.max } : {}),
        ...(o.over ? { over: o.over as ConstraintCreate['over'] } : {}),
        ...(o.maxPerDomain !== undefined ? { maxPerDomain: o.maxPerDomain } : {}),
      };
      const x = await c.client.constraints.create(body);
      c.out(
        x,
        () =>
          `${x.label} (id ${x.id})${x.violations.length ? `; broken now: ${x.violations.join('; ')}` : ''}`,
      );
    });
  group
    .command('delete <constraint>')
    .description('Delete a constraint (name or id)')
    .action(async function (this: Command, ref: string) {
      const c = ctx(this);
      await c.client.constraints.delete(ref);
      c.out({ deleted: ref }, () => `constraint ${ref} deleted`);
    });
};
