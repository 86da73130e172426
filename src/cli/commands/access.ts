/** `nubis security-group …`, `nubis keypair …`, `nubis floating-ip …`: who may reach a VM, and how. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { SecurityRuleCreate } from '../../client/index.ts';
import { formatTable } from '../table.ts';
import { CliError, ctx, resourceCommand, type CommandModule } from './common.ts';

/** `22` or `8000-8080` → [min, max]. */
function portRange(v: string): [number, number] {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(v);
  const a = m ? Number(m[1]) : NaN,
    b = m?.[2] ? Number(m[2]) : a;
  if (!m || a < 1 || b > 65535 || a > b)
    throw new CliError('BAD_ARGUMENT', `--port must be N or MIN-MAX within 1-65535, got "${v}"`);
  return [a, b];
}

/** security-group create|list|show|delete, rule add|delete; keypair create|list|show|delete; floating-ip create|list|show|attach|detach|delete. */
export const accessCommands: CommandModule = (program) => {
  const sg = resourceCommand(
    program,
    'security-group',
    'Security groups (allow rules on ports; default: same group in, all out)',
  );
  sg.command('create <name>')
    .description('Create a security group (it allows nothing until rules are added)')
    .option('--description <text>')
    .action(async function (this: Command, name: string, o: { description?: string }) {
      const c = ctx(this);
      const g = await c.client.securityGroups.create({
        name,
        ...(o.description ? { description: o.description } : {}),
      });
      c.out(g, () => `security group ${g.name} (id ${g.id})`);
    });
  sg.command('list')
    .description('List your security groups')
    .action(async function (this: Command) {
      const c = ctx(this);
      const list = await c.client.securityGroups.list();
      c.out(list, () =>
        formatTable(
          ['name', 'rules', 'id'],
          list.map((g) => [g.name, String(g.rules.length), g.id]),
        ),
      );
    });
  sg.command('show <group>')
    .description('A security group and its rules')
    .action(async function (this: Command, ref: string) {
      const c = ctx(this);
      const g = await c.client.securityGroups.get(ref);
      c.out(g, () =>
        [
          `${g.name} (id ${g.id})`,
          formatTable(
            ['rule', 'direction', 'protocol', 'ports', 'remote'],
            g.rules.map((r) => [
              r.id,
              r.direction,
              r.protocol,
              r.portMin === null
                ? '-'
                : r.portMin === r.portMax
                  ? String(r.portMin)
                  : `${r.portMin}-${r.portMax}`,
              r.remoteCidr ?? `group ${r.remoteGroupId}`,
            ]),
          ),
        ].join('\n'),
      );
    });
  sg.command('delete <group>')
    .description('Delete a security group no port uses')
    .action(async function (this: Command, ref: string) {
      const c = ctx(this);
      await c.client.securityGroups.delete(ref);
      c.out({ deleted: ref }, () => `security group ${ref} deleted`);
    });
  const rule = sg.command('rule').description('Rules of a security group');
  rule
    .command('add <group>')
    .description('Allow traffic: e.g. `rule add web --proto tcp --port 22 --from 0.0.0.0/0`')
    .option('--direction <dir>', 'ingress or egress', 'ingress')
    .option('--proto <protocol>', 'tcp, udp, icmp or any', 'any')
    .option('--port <n|min-max>', 'port or range (tcp and udp)')
    .option('--from <cidr>', 'remote addresses (CIDR)')
    .option('--group <group>', 'remote security group (its members)')
    .action(async function (
      this: Command,
      ref: string,
      o: { direction: string; proto: string; port?: string; from?: string; group?: string },
    ) {
      const c = ctx(this);
      if (!['ingress', 'egress'].includes(o.direction))
        throw new CliError('BAD_ARGUMENT', `--direction must be ingress or egress, got "${o.direction}"`);
      if (!['tcp', 'udp', 'icmp', 'any'].includes(o.proto))
        throw new CliError('BAD_ARGUMENT', `--proto must be tcp, udp, icmp or any, got "${o.proto}"`);
      if ((o.from === undefined) === (o.group === undefined))
        throw new CliError('BAD_ARGUMENT', 'give exactly one of --from CIDR and --group GROUP');
      const range = o.port ? portRange(o.port) : undefined;
      const body: SecurityRuleCreate = {
        direction: o.direction as SecurityRuleCreate['direction'],
        protocol: o.proto as SecurityRuleCreate['protocol'],
        ...(range ? { portMin: range[0], portMax: range[1] } : {}),
        ...(o.from ? { remoteCidr: o.from } : { remoteGroup: o.group }),
      };
      const g = await c.client.securityGroups.addRule(ref, body);
      c.out(g, () => `security group ${g.name}: ${g.rules.length} rule(s)`);
    });
  rule
    .command('delete <group> <rule>')
    .description('Delete a rule (its id, from `security-group show`)')
    .action(async function (this: Command, ref: string, ruleId: string) {
      const c = ctx(this);
      await c.client.securityGroups.deleteRule(ref, ruleId);
      c.out({ deleted: ruleId }, () => `rule ${ruleId} deleted`);
    });

  const kp = resourceCommand(program, 'keypair', "Key pairs (your tenant's OpenSSH public keys)");
  kp.command('create <name>')
    .description('Import a public key: `keypair create mykey --public-key ~/.ssh/id_ed25519.pub`')
    .requiredOption('--public-key <file>', 'the OpenSSH public key file (.pub)')
    .action(async function (this: Command, name: string, o: { publicKey: string }) {
      const c = ctx(this);
      let text: string;
      try {
        text = readFileSync(o.publicKey, 'utf8');
      } catch (e) {
        throw new CliError(
          'BAD_ARGUMENT',
          `--public-key: cannot read ${o.publicKey}: ${(e as Error).message}`,
        );
      }
      const k = await c.client.keypairs.create({ name, publicKey: text.trim() });
      c.out(k, () => `key pair ${k.name}: ${k.fingerprint}`);
    });
  kp.command('list')
    .description("List your tenant's key pairs")
    .action(async function (this: Command) {
      const c = ctx(this);
      const list = await c.client.keypairs.list();
      c.out(list, () =>
        formatTable(
          ['name', 'fingerprint', 'id'],
          list.map((k) => [k.name, k.fingerprint, k.id]),
        ),
      );
    });
  kp.command('show <keypair>')
    .description('A key pair and its public key')
    .action(async function (this: Command, ref: string) {
      const c = ctx(this);
      const k = await c.client.keypairs.get(ref);
      c.out(k, () => `${k.name} (id ${k.id})\nfingerprint: ${k.fingerprint}\n${k.publicKey}`);
    });
  kp.command('delete <keypair>')
    .description('Delete a key pair (VMs that have it keep it)')
    .action(async function (this: Command, ref: string) {
      const c = ctx(this);
      await c.client.keypairs.delete(ref);
      c.out({ deleted: ref }, () => `key pair ${ref} deleted`);
    });

  const fip = resourceCommand(program, 'floating-ip', 'Floating IPs (public addresses NATed to a VM)');
  fip
    .command('create')
    .description('Allocate a floating IP (metered by the hour until deleted)')
    .option('--network <network>', 'the external network (when there are several)')
    .action(async function (this: Command, o: { network?: string }) {
      const c = ctx(this);
      const f = await c.client.floatingIps.create(o.network ? { network: o.network } : {});
      c.out(f, () => `floating IP ${f.ip} (id ${f.id})`);
    });
  fip
    .command('list')
    .description('List your floating IPs')
    .action(async function (this: Command) {
      const c = ctx(this);
      const list = await c.client.floatingIps.list();
      c.out(list, () =>
        formatTable(
          ['ip', 'fixed ip', 'vm', 'id'],
          list.map((f) => [f.ip, f.fixedIp ?? '-', f.vmId ?? '-', f.id]),
        ),
      );
    });
  fip
    .command('show <fip>')
    .description('A floating IP (id or address)')
    .action(async function (this: Command, ref: string) {
      const c = ctx(this);
      const f = await c.client.floatingIps.get(ref);
      c.out(f, () => `${f.ip} (id ${f.id})\nfixed ip: ${f.fixedIp ?? '-'}\nvm: ${f.vmId ?? '-'}`);
    });
  fip
    .command('attach <fip> <vm>')
    .description('Attach to a VM (its first port), or with --port to a port')
    .option('--port', 'the second argument is a port id')
    .action(async function (this: Command, ref: string, to: string, o: { port?: boolean }) {
      const c = ctx(this);
      const f = await c.client.floatingIps.attach(ref, o.port ? { port: to } : { vm: to });
      c.out(f, () => `floating IP ${f.ip} → ${f.fixedIp} (VM ${f.vmId})`);
    });
  fip
    .command('detach <fip>')
    .description('Detach from its port')
    .action(async function (this: Command, ref: string) {
      const c = ctx(this);
      const f = await c.client.floatingIps.detach(ref);
      c.out(f, () => `floating IP ${f.ip} detached`);
    });
  fip
    .command('delete <fip>')
    .description('Release a floating IP to the pool')
    .action(async function (this: Command, ref: string) {
      const c = ctx(this);
      await c.client.floatingIps.delete(ref);
      c.out({ deleted: ref }, () => `floating IP ${ref} released`);
    });
};
