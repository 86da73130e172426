/** `nubis network …` and `nubis port …`: tenant networks (one IPv4 subnet each), external networks, ports. */
import type { Command } from 'commander';
import { formatTable } from '../table.ts';
import { collect, ctx, int, resourceCommand, type CommandModule } from './common.ts';

/** network create, list, show, delete; port list, show, update. */
export const networkCommands: CommandModule = (program) => {
  const net = resourceCommand(
    program,
    'network',
    'Networks (an IPv4 subnet with DHCP; external ones hold floating IPs)',
  );
  net
    .command('create <name>')
    .description('Create a network; VMs join it with `vm create --network NAME`')
    .requiredOption('--cidr <cidr>', 'IPv4 subnet, /8 to /29 (e.g. 10.20.0.0/24)')
    .option('--gateway <ip>', 'gateway address (default: the first host address)')
    .option('--no-dhcp', 'no DHCP on this network')
    .option('--dns <ip>', 'a DNS server handed out by DHCP (repeatable)', collect)
    .option('--mtu <bytes>', 'MTU handed to guests (default 1450)', int)
    .option('--external', 'an external network (admins): its --pool is the floating IP range')
    .option('--pool <first-last>', 'floating IP range of an external network, FIRST-LAST')
    .option('--physnet <name>', 'the physical network it lives on (only hosts with it can plumb it)')
    .action(async function (
      this: Command,
      name: string,
      o: {
        cidr: string;
        gateway?: string;
        dhcp: boolean;
        dns?: string[];
        mtu?: number;
        external?: boolean;
        pool?: string;
        physnet?: string;
      },
    ) {
      const c = ctx(this);
      const n = await c.client.networks.create({
        name,
        cidr: o.cidr,
        ...(o.gateway ? { gateway: o.gateway } : {}),
        ...(o.dhcp === false ? { dhcp: false } : {}),
        ...(o.dns ? { dns: o.dns } : {}),
        ...(o.mtu !== undefined ? { mtu: o.mtu } : {}),
        ...(o.external ? { external: true } : {}),
        ...(o.pool ? { pool: o.pool } : {}),
        ...(o.physnet ? { physnet: o.physnet } : {}),
      });
      c.out(n, () => `network ${n.name}: ${n.cidr}, gateway ${n.gateway ?? '-'} (id ${n.id})`);
    });
  net
    .command('list')
    .description('List your networks and the external ones')
    .action(async function (this: Command) {
      const c = ctx(this);
      const list = await c.client.networks.list();
      c.out(list, () =>
        formatTable(
          ['name', 'cidr', 'kind', 'gateway', 'id'],
          list.map((n) => [n.name, n.cidr, n.kind, n.gateway ?? '-', n.id]),
        ),
      );
    });
  net
    .command('show <network>')
    .description('A network')
    .action(async function (this: Command, ref: string) {
      const c = ctx(this);
      const n = await c.client.networks.get(ref);
      c.out(n, () =>
        [
          `${n.name} (${n.kind}, id ${n.id})`,
          `cidr: ${n.cidr}`,
          ...(n.vni !== undefined
            ? [
                `gateway: ${n.gateway ?? '-'}`,
                `dhcp: ${n.dhcp ? 'on' : 'off'}`,
                `dns: ${n.dns?.join(', ') || '-'}`,
                `mtu: ${n.mtu}`,
                `ports: ${n.ports ?? 0}`,
              ]
            : []),
          ...(n.pool ? [`pool: ${n.pool}`] : []),
        ].join('\n'),
      );
    });
  net
    .command('delete <network>')
    .description('Delete a network with no ports')
    .action(async function (this: Command, ref: string) {
      const c = ctx(this);
      await c.client.networks.delete(ref);
      c.out({ deleted: ref }, () => `network ${ref} deleted`);
    });

  const port = resourceCommand(
    program,
    'port',
    "Ports (a VM's NIC on a network: MAC, fixed IP, security groups)",
  );
  port
    .command('list')
    .description('List your ports')
    .option('--vm <vm>', 'only the ports of this VM (id)')
    .option('--network <network>', 'only the ports on this network (id)')
    .action(async function (this: Command, o: { vm?: string; network?: string }) {
      const c = ctx(this);
      const list = await c.client.ports.list(o);
      c.out(list, () =>
        formatTable(
          ['id', 'ip', 'mac', 'vm', 'floating ip'],
          list.map((p) => [p.id, p.fixedIps.join(','), p.mac, p.vmId ?? '-', p.floatingIp ?? '-']),
        ),
      );
    });
  port
    .command('create')
    .description('Create a port on one of your networks; attach it with `vm create --port ID`')
    .requiredOption('--network <network>', 'network name or id')
    .option('--fixed-ip <ip>', 'the address it gets (default: the first free one)')
    .option('--security-group <group>', 'security group (repeatable; default: default)', collect)
    .action(async function (
      this: Command,
      o: { network: string; fixedIp?: string; securityGroup?: string[] },
    ) {
      const c = ctx(this);
      const p = await c.client.ports.create({
        network: o.network,
        ...(o.fixedIp ? { fixedIp: o.fixedIp } : {}),
        ...(o.securityGroup ? { securityGroups: o.securityGroup } : {}),
      });
      c.out(p, () => `port ${p.id}: ${p.fixedIps.join(', ')} ${p.mac}`);
    });
  port
    .command('show <port>')
    .description('A port')
    .action(async function (this: Command, ref: string) {
      const c = ctx(this);
      const p = await c.client.ports.get(ref);
      c.out(p, () =>
        [
          `port ${p.id}`,
          `network: ${p.networkId}`,
          `vm: ${p.vmId ?? '-'}`,
          `mac: ${p.mac}`,
          `ips: ${p.fixedIps.join(', ')}`,
          `floating ip: ${p.floatingIp ?? '-'}`,
          `security groups: ${p.securityGroups.join(', ')}`,
        ].join('\n'),
      );
    });
  port
    .command('update <port>')
    .description("Set a port's security groups (its host gets the new rules at once)")
    .requiredOption('--security-group <group>', 'security group (repeatable)', collect)
    .action(async function (this: Command, ref: string, o: { securityGroup: string[] }) {
      const c = ctx(this);
      const p = await c.client.ports.update(ref, { securityGroups: o.securityGroup });
      c.out(p, () => `port ${p.id}: security groups ${p.securityGroups.join(', ')}`);
    });
  port
    .command('delete <port>')
    .description('Delete a port no VM uses')
    .action(async function (this: Command, ref: string) {
      const c = ctx(this);
      await c.client.ports.delete(ref);
      c.out({ deleted: ref }, () => `port ${ref} deleted`);
    });
};
