/** `nubis host …`: hosts (admins and operators), named by name or id. */
import type { Command } from 'commander';
import type { Host, HostCreate, HostState } from '../../client/index.ts';
import { formatTable } from '../table.ts';
import {
  CliError,
  collect,
  ctx,
  defined,
  int,
  keyValues,
  num,
  resourceCommand,
  type CommandModule,
} from './common.ts';

const STATES: HostState[] = ['up', 'maintenance', 'off', 'failed'];

/** A host as one table row's cells. */
const row = (h: Host) => [
  h.name,
  h.state,
  h.zone,
  h.rack,
  `${h.used.vcpus}/${h.capacity.vcpus * h.overcommit.cpu}`,
  `${h.used.memoryMiB}/${h.capacity.memoryMiB}`,
  h.vms,
  `${Math.round(h.cpu * 100)} %`,
  `${Math.round(h.powerW)} W`,
];

/** host list, show, create, join-token create, set-state, power, drain, undrain. */
export const hostCommands: CommandModule = (program) => {
  const host = resourceCommand(program, 'host', 'Hosts (admins and operators)');

  host
    .command('list')
    .description('List hosts with capacity and use, by name: every page unless --limit')
    .option('--state <state>', 'only hosts in this state')
    .option('--zone <zone>', 'only hosts in this zone')
    .option('--rack <rack>', 'only hosts in this rack')
    .option('--driver <driver>', 'only hosts with this driver (sim, qemu)')
    .option('--limit <n>', 'at most this many hosts (the first ones)', int)
    .action(async function (
      this: Command,
      o: { state?: string; zone?: string; rack?: string; driver?: string; limit?: number },
    ) {
      const c = ctx(this);
      const list = await c.client.hosts.list(o);
      c.out(list, () =>
        formatTable(
          ['name', 'state', 'zone', 'rack', 'vCPUs used/cap', 'memory MiB used/cap', 'VMs', 'CPU', 'power'],
          list.map(row),
          [false, false, false, false, true, true, true, true, true],
        ),
      );
    });

  host
    .command('show <host>')
    .description('Show a host')
    .action(async function (this: Command, ref: string) {
      const c = ctx(this);
      const h = await c.client.hosts.get(ref);
      c.out(h, () => keyValues(h));
    });

  hostAttributeOptions(host.command('create <name>'))
    .description('Register a host (admin)')
    .requiredOption('--vcpus <n>', 'physical cores', int)
    .requiredOption('--memory-mib <n>', 'memory', int)
    .option('--disk-gib <n>', 'disk (default 0)', int)
    .option('--driver <driver>', 'sim or qemu')
    .option('--agent-url <url>', "the host agent's URL (qemu hosts)")
    .option('--power-address <addr>', "the agents' power-control address")
    .option('--power-model <json>', 'e.g. {"type":"linear","idleW":100,"maxW":250}')
    .action(async function (this: Command, name: string, o) {
      const c = ctx(this);
      let powerModel: HostCreate['powerModel'];
      if (o.powerModel)
        try {
          powerModel = JSON.parse(o.powerModel);
        } catch {
          throw new CliError('BAD_ARGUMENT', `--power-model must be JSON, got ${o.powerModel}`);
        }
      const h = await c.client.hosts.create({
        ...defined({
          cpuRatio: o.cpuRatio,
          memoryRatio: o.memoryRatio,
          diskRatio: o.diskRatio,
          reservedVcpus: o.reservedVcpus,
          reservedMemoryMiB: o.reservedMemoryMib,
          reservedDiskGiB: o.reservedDiskGib,
          datacenter: o.datacenter,
          rack: o.rack,
          zone: o.zone,
          tier: o.tier,
          driver: o.driver,
          agentUrl: o.agentUrl,
          powerAddress: o.powerAddress,
          powerModel,
          underlayIp: o.underlayIp === undefined ? undefined : o.underlayIp || null,
          physnets: o.physnet,
        }),
        name,
        vcpus: o.vcpus,
        memoryMiB: o.memoryMib,
        diskGiB: o.diskGib ?? 0,
      });
      c.out(h, () =>
        [
          `host ${h.name}: ${h.state} (id ${h.id})`,
          // A real host's credentials are in this answer only: its agent needs them.
          ...(h.hostCredential
            ? [`host credential (the agent reports with it; shown once): ${h.hostCredential}`]
            : []),
          ...(h.agentCredential
            ? [
                `agent credential (start its agent with NUBIS_AGENT_TOKEN set to it; shown once): ${h.agentCredential}`,
              ]
            : []),
        ].join('\n'),
      );
    });

  const joinToken = host.command('join-token').description('One-time tokens that enroll hosts (admin)');
  joinToken
    .command('create')
    .description('Create a one-time join token: `nubis agent --join URL` enrolls one host with it')
    .option('--expires-in-s <n>', 'lifetime in seconds (at most 604800, 7 days)', int, 3600)
    .option('--name <name>', 'a name for the audit trail')
    .action(async function (this: Command, o: { expiresInS: number; name?: string }) {
      const c = ctx(this);
      const t = await c.client.hosts.createJoinToken({
        expiresInS: o.expiresInS,
        ...defined({ name: o.name }),
      });
      c.out(t, () =>
        [
          `join token ${t.name} (single use, expires ${t.expiresAt}); shown once:`,
          t.token,
          `enroll a host: NUBIS_JOIN_TOKEN=<token> nubis agent --join <control-plane URL> ...`,
        ].join('\n'),
      );
    });

  host
    .command('set-state <host> <state>')
    .description(`Set a host's state: ${STATES.join(', ')}`)
    .action(async function (this: Command, ref: string, state: string) {
      const c = ctx(this);
      if (!STATES.includes(state as HostState))
        throw new CliError('BAD_ARGUMENT', `state must be one of ${STATES.join(', ')}, got "${state}"`);
      const h = await c.client.hosts.setState(ref, state as HostState);
      c.out(h, () => `${h.name}: ${h.state}`);
    });

  host
    .command('power <host> <action>')
    .description(
      "Switch a host on or off (off: it must be empty); real hosts through their agents' power command",
    )
    .option('--reason <text>', 'kept in the event log')
    .action(async function (this: Command, ref: string, action: string, o: { reason?: string }) {
      const c = ctx(this);
      if (action !== 'on' && action !== 'off')
        throw new CliError('BAD_ARGUMENT', `action must be on or off, got "${action}"`);
      const r = await c.client.hosts.power(ref, action, o.reason);
      c.out(r, () => `${r.host}: ${r.state}`);
    });

  host
    .command('drain <host>')
    .description('Live-migrate every VM off a host, then keep it in maintenance')
    .action(async function (this: Command, ref: string) {
      const c = ctx(this);
      const r = await c.client.hosts.drain(ref);
      c.out(
        r,
        () =>
          `${r.host}: ${r.state}; moved ${r.moved.length} VM(s)${r.stuck.length ? `; could not move: ${r.stuck.map((x) => `${x.vm} (${x.reason})`).join(', ')}` : ''}`,
      );
    });

  host
    .command('undrain <host>')
    .description('Put a host back in service')
    .action(async function (this: Command, ref: string) {
      const c = ctx(this);
      const h = await c.client.hosts.undrain(ref);
      c.out(h, () => `${h.name}: ${h.state}`);
    });

  hostAttributeOptions(host.command('update <host>'))
    .description(
      "Change a host's ratios, reserved resources, labels or power model (admin); refused if its VMs would not fit",
    )
    .option('--power-address <addr>')
    .option('--power-model <json>', 'e.g. {"type":"linear","idleW":100,"maxW":250}')
    .option(
      '--underlay-ip <addr>',
      "the address other hosts reach this one at for VXLAN ('' = its agent URL's host name)",
    )
    .option(
      '--physnet <name>',
      'a physical network the host is wired to (repeatable; replaces the list)',
      collect,
    )
    .option('--pool <name>', 'a storage pool the host sees (repeatable; replaces the list)', collect)
    .option(
      '--memory-policy <policy>',
      'static (flavor × memory ratio) or measured (guarantee + working set at a risk)',
      (v: string) => {
        if (v !== 'static' && v !== 'measured')
          throw new CliError('BAD_ARGUMENT', `--memory-policy must be static or measured, got ${v}`);
        return v;
      },
    )
    .option(
      '--memory-risk <p>',
      "a measured host's accepted risk of running short of memory (e.g. 0.01)",
      num,
    )
    .option(
      '--memory-guarantee <share>',
      "share of each VM's memory guaranteed on a measured host (0.5)",
      num,
    )
    .action(async function (this: Command, ref: string, o) {
      const c = ctx(this);
      let powerModel: HostCreate['powerModel'];
      if (o.powerModel)
        try {
          powerModel = JSON.parse(o.powerModel);
        } catch {
          throw new CliError('BAD_ARGUMENT', `--power-model must be JSON, got ${o.powerModel}`);
        }
      const h = await c.client.hosts.update(
        ref,
        defined({
          cpuRatio: o.cpuRatio,
          memoryRatio: o.memoryRatio,
          diskRatio: o.diskRatio,
          reservedVcpus: o.reservedVcpus,
          reservedMemoryMiB: o.reservedMemoryMib,
          reservedDiskGiB: o.reservedDiskGib,
          datacenter: o.datacenter,
          rack: o.rack,
          zone: o.zone,
          tier: o.tier,
          powerAddress: o.powerAddress,
          powerModel,
          underlayIp: o.underlayIp === undefined ? undefined : o.underlayIp || null,
          physnets: o.physnet,
          pools: o.pool,
          memoryPolicy: o.memoryPolicy,
          memoryRisk: o.memoryRisk,
          memoryGuarantee: o.memoryGuarantee,
        }),
      );
      c.out(h, () => keyValues(h));
    });

  host
    .command('memory <host>')
    .description("A host's memory model: policy, demand at its risk, its VMs' working sets and sharing")
    .option('--with <vms>', 'also the demand with these VMs added (ids or names, comma-separated): what-if')
    .action(async function (this: Command, ref: string, o: { with?: string }) {
      const c = ctx(this);
      const m = await c.client.hosts.memory(ref, {
        with: o.with
          ?.split(',')
          .map((x) => x.trim())
          .filter(Boolean),
      });
      const w = m.with;
      const d = m.demand;
      c.out(m, () =>
        [
          `host ${m.host}: policy ${m.policy}, risk ${m.risk}, guarantee ${m.guarantee} of each VM's memory`,
          `capacity ${m.capacityMiB} MiB (static rule: ${m.staticCapacityMiB} MiB)`,
          `guaranteed ${d.guaranteedMiB} MiB, configured ${d.configuredMiB} MiB, expected ${d.expectedMiB} MiB (${d.sharedMiB} MiB shared), sd ${d.sdMiB} MiB, at the risk ${d.atRiskMiB} MiB`,
          formatTable(
            ['VM', 'MEMORY', 'GUARANTEED', 'WORKING SET', 'SD', 'DEMAND', 'MERGE'],
            m.vms.map((v) => [
              v.name,
              v.memoryMiB,
              v.guaranteedMiB,
              v.workingSetMiB ?? '-',
              v.workingSetSdMiB ?? '-',
              v.demandMiB,
              v.mergeable ? 'yes' : 'no',
            ]),
            [false, true, true, true, true, true, false],
          ),
          ...(w
            ? [
                `with ${w.vms.map((v) => v.name).join(', ')}: expected ${w.demand.expectedMiB} MiB (${w.demand.sharedMiB} MiB shared, ${w.sharedWithHostMiB} MiB of it with this host's VMs), at the risk ${w.demand.atRiskMiB} MiB: ${w.admitted ? 'admitted' : 'refused'} (${w.reason})`,
              ]
            : []),
        ].join('\n'),
      );
    });

  host
    .command('delete <host>')
    .description('Delete a host with no VMs (admin)')
    .action(async function (this: Command, ref: string) {
      const c = ctx(this);
      await c.client.hosts.delete(ref);
      c.out({ deleted: ref }, () => `host ${ref} deleted`);
    });

  host
    .command('retire <host>')
    .description('Drain a host, then delete it; says which VMs could not move (admin)')
    .action(async function (this: Command, ref: string) {
      const c = ctx(this);
      const r = await c.client.hosts.retire(ref);
      c.out(r, () =>
        [
          `host ${r.host}: ${r.deleted ? 'retired (deleted)' : 'drained only, still in maintenance'}`,
          `moved: ${r.moved.join(', ') || '-'}`,
          ...r.stuck.map((s) => `not moved: ${s.vm}: ${s.reason}`),
        ].join('\n'),
      );
    });
};

/** The options a host is created and updated with: overcommit, reserved resources, labels. */
function hostAttributeOptions(cmd: Command): Command {
  return cmd
    .option('--cpu-ratio <x>', 'CPU overcommit ratio', num)
    .option('--memory-ratio <x>', 'memory overcommit ratio', num)
    .option('--disk-ratio <x>', 'disk overcommit ratio', num)
    .option('--reserved-vcpus <n>', 'kept for the host itself', int)
    .option('--reserved-memory-mib <n>', 'kept for the host itself', int)
    .option('--reserved-disk-gib <n>', 'kept for the host itself', int)
    .option('--datacenter <dc>')
    .option('--rack <rack>')
    .option('--zone <zone>')
    .option('--tier <tier>');
}
