/**
 * `nubis constraint …`: placement constraints (affinity, anti-affinity, fence, ban, max per host,
 * spread, and BtrPlace's catalog: gather, among, split, splitAmong, lonely, root, preserve, noDelay;
 * quarantine, maxOnline, runningCapacity, overbook for operators).
 */
import type { Command } from 'commander';
import type { ConstraintCreate, ConstraintHostGroup, ConstraintType } from '../../client/index.ts';
import { CONSTRAINT_TYPES } from '../../core/constraints/model.ts';
import { formatTable } from '../table.ts';
import { CliError, collect, ctx, int, num, pair, resourceCommand, type CommandModule } from './common.ts';

/** The constraint types the control plane knows (the core's list). */
const TYPES: readonly ConstraintType[] = CONSTRAINT_TYPES;
const RESOURCES = ['vcpus', 'memoryMiB', 'diskGiB'] as const;
const DOMAINS = ['rack', 'zone', 'datacenter'] as const;
const ATTRS = ['zone', 'rack', 'tier', 'datacenter'];

/** `zone=z1,tier=gpu` or `h1,h2` (host names or ids), or both: one host group. */
function hostGroup(v: string): ConstraintHostGroup {
  const parts = v.split(',').filter(Boolean);
  const where = Object.fromEntries(parts.filter((x) => x.includes('=')).map((x) => pair(x, '--host-group')));
  for (const k of Object.keys(where))
    if (!ATTRS.includes(k))
      throw new CliError(
        'BAD_ARGUMENT',
        `--host-group takes host names or ${ATTRS.join(', ')}=VALUE, got "${k}"`,
      );
  const hosts = parts.filter((x) => !x.includes('='));
  return { ...(hosts.length ? { hosts } : {}), ...(Object.keys(where).length ? { where } : {}) };
}

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
          ...(x.vmGroups ? [`VM groups: ${x.vmGroups.map((g) => g.join(', ')).join(' | ')}`] : []),
          ...(x.hostGroups
            ? [
                `host groups: ${x.hostGroups
                  .map((g) =>
                    [...(g.hosts ?? []), ...Object.entries(g.where ?? {}).map(([k, v]) => `${k}=${v}`)].join(
                      ', ',
                    ),
                  )
                  .join(' | ')}`,
              ]
            : []),
          ...(x.resource ? [`resource: ${x.resource}`] : []),
          ...(x.amount !== undefined ? [`at least: ${x.amount}`] : []),
          ...(x.ratio !== undefined ? [`ratio: ${x.ratio} × capacity`] : []),
          ...(x.continuous !== undefined ? [`continuous: ${x.continuous ? 'yes' : 'no'}`] : []),
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
    .option(
      '--host <host>',
      'fence, ban, quarantine, maxOnline, runningCapacity, overbook: a host (repeatable; admins and operators)',
      collect,
    )
    .option(
      '--where <attr=value>',
      `fence, ban and the host rules: hosts with this attribute (${ATTRS.join(', ')}; repeatable)`,
      collect,
    )
    .option(
      '--max <n>',
      'max-per-host: VMs per host; maxOnline: hosts on; runningCapacity: VMs on the hosts together',
      int,
    )
    .option('--server-group <group>', "the VMs of this server group now (with --vm's)")
    .option('--vm-group <vms>', 'split, splitAmong: a group of VMs, comma-separated (repeatable)', collect)
    .option(
      '--host-group <hosts>',
      'among, splitAmong: a group of hosts, comma-separated names or attr=value (repeatable)',
      collect,
    )
    .option('--resource <r>', `preserve, overbook: ${RESOURCES.join(', ')}`)
    .option('--amount <n>', 'preserve: the least of the resource each VM gets', num)
    .option('--ratio <x>', 'overbook: demand at most this × capacity on each host', num)
    .option(
      '--continuous',
      'hold in every intermediate state of a plan too (among, split, lonely, host rules)',
    )
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
        serverGroup?: string;
        vmGroup?: string[];
        hostGroup?: string[];
        resource?: string;
        amount?: number;
        ratio?: number;
        continuous?: boolean;
      },
    ) {
      const c = ctx(this);
      if (!TYPES.includes(o.type as ConstraintType))
        throw new CliError('BAD_ARGUMENT', `--type must be one of ${TYPES.join(', ')}, got "${o.type}"`);
      if (o.over && !(DOMAINS as readonly string[]).includes(o.over))
        throw new CliError('BAD_ARGUMENT', `--over must be one of ${DOMAINS.join(', ')}, got "${o.over}"`);
      if (o.resource && !(RESOURCES as readonly string[]).includes(o.resource))
        throw new CliError(
          'BAD_ARGUMENT',
          `--resource must be one of ${RESOURCES.join(', ')}, got "${o.resource}"`,
        );
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
        ...(o.serverGroup ? { serverGroup: o.serverGroup } : {}),
        ...(o.vmGroup ? { vmGroups: o.vmGroup.map((g) => g.split(',').filter(Boolean)) } : {}),
        ...(o.hostGroup ? { hostGroups: o.hostGroup.map(hostGroup) } : {}),
        ...(o.resource ? { resource: o.resource as ConstraintCreate['resource'] } : {}),
        ...(o.amount !== undefined ? { amount: o.amount } : {}),
        ...(o.ratio !== undefined ? { ratio: o.ratio } : {}),
        ...(o.continuous ? { continuous: true } : {}),
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
