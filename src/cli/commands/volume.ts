/** `nubis volume …` and `nubis storage-pool …`: volumes, their snapshots, storage pools. */
import type { Command } from 'commander';
import type { Volume } from '../../client/index.ts';
import { formatTable } from '../table.ts';
import { CliError, ctx, int, keyValues, resourceCommand, vmId, type CommandModule } from './common.ts';

const line = (v: Volume) =>
  `volume ${v.name}: ${v.sizeGiB} GiB in pool ${v.pool}, ${v.state}${v.vm ? ` on VM ${v.vm}` : ''} (id ${v.id})`;

/** volume create|list|show|delete|attach|detach|snapshot|snapshots|delete-snapshot; storage-pool create|list. */
export const volumeCommands: CommandModule = (program) => {
  const volume = resourceCommand(program, 'volume', 'Volumes: disks that outlive their VM');
  volume
    .command('create <name>')
    .description('Create a volume (empty, or a copy of an image, a volume or a snapshot)')
    .requiredOption('--size <GiB>', 'size in GiB', int)
    .option('--pool <pool>', 'storage pool (default: the only one, or local)')
    .option('--from-image <image>', 'copy an uploaded image')
    .option('--from-volume <volume>', 'clone a volume (copy-on-write, same pool)')
    .option('--from-snapshot <id>', 'clone a volume snapshot')
    .action(async function (this: Command, name: string, o) {
      const c = ctx(this);
      const v = await c.client.volumes.create({
        name,
        sizeGiB: o.size,
        ...(o.pool ? { pool: o.pool } : {}),
        ...(o.fromImage ? { fromImage: o.fromImage } : {}),
        ...(o.fromVolume ? { fromVolume: o.fromVolume } : {}),
        ...(o.fromSnapshot ? { fromSnapshot: o.fromSnapshot } : {}),
      });
      c.out(v, () => line(v));
    });
  volume
    .command('list')
    .description('List your volumes')
    .option('--vm <vm>', 'only the volumes attached to this VM (name or id)')
    .action(async function (this: Command, o: { vm?: string }) {
      const c = ctx(this);
      const list = await c.client.volumes.list({ vm: o.vm === undefined ? undefined : await vmId(c, o.vm) });
      c.out(list, () =>
        formatTable(
          ['name', 'size GiB', 'pool', 'state', 'vm', 'id'],
          list.map((v) => [v.name, v.sizeGiB, v.pool ?? '', v.state, v.vm ?? '', v.id]),
          [false, true, false, false, false, false],
        ),
      );
    });
  volume
    .command('show <volume>')
    .description('A volume (name or id)')
    .action(async function (this: Command, ref: string) {
      const c = ctx(this);
      const v = await c.client.volumes.get(ref);
      c.out(v, () => keyValues(v));
    });
  volume
    .command('delete <volume>')
    .description('Delete a volume that is not attached (with its snapshots)')
    .action(async function (this: Command, ref: string) {
      const c = ctx(this);
      await c.client.volumes.delete(ref);
      c.out({ deleted: ref }, () => `volume ${ref} deleted`);
    });
  volume
    .command('attach <volume> <vm>')
    .description('Attach to a VM (hot-plugged into a running guest)')
    .action(async function (this: Command, ref: string, vm: string) {
      const c = ctx(this);
      const v = await c.client.volumes.attach(ref, vm);
      c.out(v, () => `${line(v)}; the guest sees /dev/disk/by-id/virtio-${v.serial}`);
    });
  volume
    .command('detach <volume>')
    .description('Detach from its VM')
    .action(async function (this: Command, ref: string) {
      const c = ctx(this);
      const v = await c.client.volumes.detach(ref);
      c.out(v, () => line(v));
    });
  volume
    .command('snapshot <volume>')
    .description('Snapshot a volume')
    .requiredOption('--name <name>', 'snapshot name')
    .action(async function (this: Command, ref: string, o: { name: string }) {
      const c = ctx(this);
      const s = await c.client.volumes.snapshot(ref, o.name);
      c.out(s, () => `snapshot ${s.name} of volume ${ref} (id ${s.id})`);
    });
  volume
    .command('snapshots <volume>')
    .description("A volume's snapshots")
    .action(async function (this: Command, ref: string) {
      const c = ctx(this);
      const list = await c.client.volumes.snapshots(ref);
      c.out(list, () =>
        formatTable(
          ['name', 'size GiB', 'created', 'id'],
          list.map((s) => [s.name, s.sizeGiB, s.createdAt, s.id]),
          [false, true, false, false],
        ),
      );
    });
  volume
    .command('delete-snapshot <volume> <snapshot>')
    .description('Delete a snapshot of a volume (by name or id)')
    .action(async function (this: Command, ref: string, snap: string) {
      const c = ctx(this);
      const s = (await c.client.volumes.snapshots(ref)).find((x) => x.id === snap || x.name === snap);
      if (!s) throw new CliError('NOT_FOUND', `Volume ${ref} has no snapshot "${snap}"`);
      await c.client.volumes.deleteSnapshot(s.id);
      c.out({ deleted: s.id }, () => `snapshot ${s.name} of volume ${ref} deleted`);
    });

  const pool = resourceCommand(
    program,
    'storage-pool',
    'Storage pools (local: a folder on each host; shared: NAS/SAN)',
  );
  pool
    .command('create <name>')
    .description('Create a storage pool (admin)')
    .requiredOption('--kind <kind>', 'local or shared')
    .option('--zone <zone>', 'the zone whose hosts see it (default: every zone)')
    .action(async function (this: Command, name: string, o: { kind: string; zone?: string }) {
      const c = ctx(this);
      if (o.kind !== 'local' && o.kind !== 'shared')
        throw new CliError('BAD_ARGUMENT', `--kind must be local or shared, got "${o.kind}"`);
      const p = await c.client.storagePools.create({
        name,
        kind: o.kind,
        ...(o.zone ? { zone: o.zone } : {}),
      });
      c.out(p, () => `storage pool ${p.name}: ${p.kind}${p.zone ? ` in ${p.zone}` : ''} (id ${p.id})`);
    });
  pool
    .command('list')
    .description('List storage pools')
    .action(async function (this: Command) {
      const c = ctx(this);
      const list = await c.client.storagePools.list();
      c.out(list, () =>
        formatTable(
          ['name', 'kind', 'zone'],
          list.map((p) => [p.name, p.kind, p.zone ?? '(all)']),
        ),
      );
    });
};
