/** `nubis vm …`: virtual machines, named by name or id. */
import { readFileSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import type { VmAction } from '../../client/index.ts';
import { runConsoleSession } from '../console-session.ts';
import { formatTable } from '../table.ts';
import {
  CliError,
  collect,
  ctx,
  finishOperation,
  hostId,
  int,
  keyValues,
  num,
  opLine,
  resourceCommand,
  vmId,
  type CommandModule,
} from './common.ts';

const IDEM = ['--idempotency-key <key>', 'a retry with the same key returns the first answer'] as const;

/** The user data file's text; refused above 64 KiB before anything is sent. */
function readUserData(file: string): string {
  let size: number;
  try {
    size = statSync(file).size;
  } catch (e) {
    throw new CliError('BAD_ARGUMENT', `--user-data: cannot read ${file}: ${(e as Error).message}`);
  }
  if (size > 65536)
    throw new CliError('BAD_ARGUMENT', `--user-data: ${file} is ${size} bytes; at most 65536 (64 KiB)`);
  return readFileSync(file, 'utf8');
}

/** vm create, list, show, start, stop, reboot, suspend, resume, delete, snapshot, restore, resize, clone, migrate, console. */
export const vmCommands: CommandModule = (program) => {
  const vm = resourceCommand(program, 'vm', 'Virtual machines (named by name or id)');

  vm.command('create')
    .description('Create a VM (or, with --dry-run, say where it would go and why)')
    .requiredOption('--name <name>')
    .requiredOption('--flavor <flavor>', 'flavor name or id')
    .requiredOption('--image <image>', 'image name or id')
    .option('--server-group <group>', 'server group name or id')
    .option('--preset <preset>', 'placement: pack, spread, first-fit')
    .option('--zone <zone>', 'only hosts of this zone')
    .option('--tier <tier>', 'only hosts of this tier')
    .option('--ha', 'restart it elsewhere when its host fails')
    .option('--ha-priority <n>', 'restart order, 0-100 (higher first)', int)
    .option('--constraint <constraint>', 'a placement constraint it joins (name or id; repeatable)', collect)
    .option(
      '--network <network>',
      'a network to put a new port on (name or id; repeatable: one NIC each)',
      collect,
    )
    .option('--port <port>', 'an existing free port to attach (id; repeatable)', collect)
    .option(
      '--security-group <group>',
      "the new ports' security groups (repeatable; default: default)",
      collect,
    )
    .option('--key <keypair>', 'a key pair (name): its public key is installed in the guest')
    .option('--volume <volume>', 'an available volume to attach at build (name or id; repeatable)', collect)
    .option('--user-data <file>', 'user data for cloud-init, read from FILE (at most 64 KiB)')
    .option('--dry-run', 'only say where it would go and why')
    .option(...IDEM)
    .action(async function (this: Command, o) {
      const c = ctx(this);
      const body = {
        name: o.name,
        flavor: o.flavor,
        image: o.image,
        serverGroup: o.serverGroup,
        preset: o.preset,
        zone: o.zone,
        tier: o.tier,
        ha: o.ha,
        haPriority: o.haPriority,
        constraints: o.constraint,
        networks: o.network,
        ports: o.port,
        securityGroups: o.securityGroup,
        key: o.key,
        userData: o.userData === undefined ? undefined : readUserData(o.userData),
        volumes: o.volume,
      };
      if (o.dryRun) {
        const d = await c.client.vms.dryRun(body);
        return c.out(d, () => d.explanation);
      }
      const op = await c.client.vms.create(body, { idempotencyKey: o.idempotencyKey });
      await finishOperation(c, o.name, op, async (op) => {
        const v = op.vmId ? await c.client.vms.get(op.vmId).catch(() => undefined) : undefined;
        return `${opLine(o.name, op)}${v ? `: ${v.state}${v.hostName ? ` on ${v.hostName}` : ''} (id ${v.id})` : ''}`;
      });
    });

  vm.command('list')
    .description(
      "List VMs, oldest first (your tenant's; all for admins and operators): every page unless --limit",
    )
    .option('--state <state>', 'only VMs in this state')
    .option('--host <host>', 'only VMs on this host (name or id; admins and operators)')
    .option('--tenant <tenant>', 'only VMs of this tenant (name or id; admins and operators)')
    .option('--zone <zone>', 'only VMs in this zone')
    .option('--flavor <flavor>', 'only VMs of this flavor (name or id)')
    .option('--image <image>', 'only VMs of this image (name or id)')
    .option('--name <prefix>', 'only VMs whose name starts with this')
    .option('--server-group <id>', 'only VMs of this server group (id)')
    .option('--limit <n>', 'at most this many VMs (the first ones)', int)
    .action(async function (
      this: Command,
      o: {
        state?: string;
        host?: string;
        tenant?: string;
        zone?: string;
        flavor?: string;
        image?: string;
        name?: string;
        serverGroup?: string;
        limit?: number;
      },
    ) {
      const c = ctx(this);
      const list = await c.client.vms.list({ ...o, host: o.host && (await hostId(c, o.host)) });
      c.out(list, () =>
        formatTable(
          ['id', 'name', 'state', 'flavor', 'image', 'host', 'cpu'],
          list.map((v) => [
            v.id,
            v.name,
            v.state,
            v.flavor,
            v.image,
            v.hostName ?? '',
            v.cpu === null ? '' : `${Math.round(v.cpu * 100)} %`,
          ]),
        ),
      );
    });

  vm.command('show <vm>')
    .description('Show a VM and the actions its state allows')
    .action(async function (this: Command, ref: string) {
      const c = ctx(this);
      const v = await c.client.vms.get(await vmId(c, ref));
      c.out(v, () => keyValues(v));
    });

  vm.command('memory <vm>')
    .description("A VM's measured memory: working set (mean, deviation), resident, page sharing")
    .action(async function (this: Command, ref: string) {
      const c = ctx(this);
      const m = await c.client.vms.memory(await vmId(c, ref));
      c.out(m, () =>
        m.measured
          ? [
              `VM ${m.vm}: measured ${m.measuredAt} (${m.samples} samples), page sharing ${m.memorySharing}`,
              `memory ${m.memoryMiB} MiB, resident ${m.residentMiB} MiB, working set ${m.workingSetMiB} MiB (mean ${m.workingSetMeanMiB}, sd ${m.workingSetSdMiB})`,
              m.fingerprint
                ? `fingerprint: ${m.fingerprint.pages} pages (${m.fingerprint.zeroPages} zero), 1 in 2^${m.fingerprint.sampleBits} sampled, ~${m.fingerprint.selfSharedMiB} MiB duplicated inside`
                : 'fingerprint: none',
            ].join('\n')
          : `VM ${m.vm}: not measured yet, page sharing ${m.memorySharing}`,
      );
    });

  const simple: [VmAction, string][] = [
    ['start', 'Start a stopped VM'],
    ['stop', 'Stop a VM'],
    ['reboot', 'Reboot a running VM'],
    ['suspend', 'Suspend a running VM (memory kept)'],
    ['resume', 'Resume a suspended VM'],
  ];
  for (const [action, description] of simple)
    vm.command(`${action} <vm>`)
      .description(description)
      .option(...IDEM)
      .action(async function (this: Command, ref: string, o: { idempotencyKey?: string }) {
        const c = ctx(this);
        const op = await c.client.vms.action(await vmId(c, ref), action, {}, o);
        await finishOperation(c, ref, op);
      });

  vm.command('delete <vm>')
    .description('Delete a VM')
    .option(...IDEM)
    .action(async function (this: Command, ref: string, o: { idempotencyKey?: string }) {
      const c = ctx(this);
      const op = await c.client.vms.delete(await vmId(c, ref), o);
      await finishOperation(c, ref, op);
    });

  const withArg: [VmAction, string, string, 'snapshotName' | 'flavor' | 'name', boolean][] = [
    ['snapshot', 'Take a snapshot of a VM', '--name <snapshot>', 'snapshotName', false],
    ['restore', 'Restore a VM to one of its snapshots', '--snapshot <snapshot>', 'snapshotName', true],
    [
      'resize',
      'Give a VM another flavor (it is stopped, and re-placed if it no longer fits)',
      '--flavor <flavor>',
      'flavor',
      true,
    ],
    ['clone', 'Create a new VM of the same flavor, image and server group', '--name <name>', 'name', false],
  ];
  for (const [action, description, flag, field, required] of withArg) {
    const key = flag.slice(2, flag.indexOf(' '));
    const cmd = vm.command(`${action} <vm>`).description(description);
    (required ? cmd.requiredOption(flag) : cmd.option(flag)).option(...IDEM).action(async function (
      this: Command,
      ref: string,
      o: Record<string, string | undefined>,
    ) {
      const c = ctx(this);
      const op = await c.client.vms.action(
        await vmId(c, ref),
        action,
        { [field]: o[key] },
        { idempotencyKey: o.idempotencyKey },
      );
      await finishOperation(
        c,
        ref,
        op,
        (op) => `${opLine(ref, op)}${op.vmId && action === 'clone' ? ` (new VM ${op.vmId})` : ''}`,
      );
    });
  }

  vm.command('migrate <vm>')
    .description('Live-migrate a VM (to a host, or where placement says)')
    .option('--to <host>', 'target host name or id (default: where placement says)')
    .option('--mode <mode>', 'stop-and-copy, precopy, postcopy')
    .option('--downtime-target-ms <ms>', 'let the models choose settings for this downtime', num)
    .option('--bandwidth-mbps <n>', 'link bandwidth to assume', num)
    .option(...IDEM)
    .action(async function (this: Command, ref: string, o) {
      const c = ctx(this);
      const op = await c.client.vms.migrate(
        await vmId(c, ref),
        { toHost: o.to, mode: o.mode, downtimeTargetMs: o.downtimeTargetMs, bandwidthMbps: o.bandwidthMbps },
        { idempotencyKey: o.idempotencyKey },
      );
      await finishOperation(c, ref, op, (op) => {
        const r = op.result as { modeUsed?: string; totalMs?: number; downtimeMs?: number } | null;
        return `${opLine(ref, op)}${r && r.totalMs !== undefined ? ` (${r.modeUsed ?? ''}, ${Math.round(r.totalMs)} ms, downtime ${Math.round(r.downtimeMs ?? 0)} ms)` : ''}`;
      });
    });

  vm.command('snapshots <vm>')
    .description("List a VM's snapshots")
    .action(async function (this: Command, ref: string) {
      const c = ctx(this);
      const s = await c.client.vms.snapshots(ref);
      c.out(s, () => s.snapshots.map((x) => x.name).join('\n') || `VM ${s.vm} has no snapshots`);
    });

  vm.command('console <vm>')
    .description(
      "Print the end of a VM's serial console log; with -f, keep printing what the guest writes (Ctrl-C ends); with -i, type into it",
    )
    .option('--tail <bytes>', 'bytes from the end of the log (1..1048576)', (v) => Number(v), 65536)
    .option('-f, --follow', 'keep printing new output (polls every second)')
    .option('-i, --interactive', 'type into the console (members and admins; Ctrl-] ends)')
    .action(async function (
      this: Command,
      ref: string,
      o: { tail: number; follow?: boolean; interactive?: boolean },
    ) {
      const c = ctx(this);
      if (o.interactive) {
        const ticket = await c.client.vms.consoleTicket(ref);
        const why = await runConsoleSession(c.client.vms.consoleUrl(ticket));
        if (why) process.stderr.write(`\r\n${why}\n`);
        return;
      }
      const first = await c.client.vms.consoleLog(ref, o.tail);
      if (!o.follow) return c.out(first, () => first.text.replace(/\n$/, ''));
      process.stdout.write(first.text);
      let size = first.sizeBytes;
      for (;;) {
        await new Promise((r) => setTimeout(r, 1000));
        const next = await c.client.vms.consoleLog(first.vmId, 1 << 20);
        // What grew since the last read: the last (new size - old size) bytes of the tail.
        const grown = next.sizeBytes - size;
        if (grown > 0) {
          const b = Buffer.from(next.text, 'utf8');
          process.stdout.write(b.subarray(Math.max(0, b.length - grown)));
        }
        size = next.sizeBytes;
      }
    });

  vm.command('delete-snapshot <vm> <name>')
    .description('Delete one snapshot of a VM')
    .action(async function (this: Command, ref: string, name: string) {
      const c = ctx(this);
      await c.client.vms.deleteSnapshot(ref, name);
      c.out({ vm: ref, deleted: name }, () => `snapshot ${name} of ${ref} deleted`);
    });
};
