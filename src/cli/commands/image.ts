/** `nubis image …`: images. */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { formatTable } from '../table.ts';
import { CliError, ctx, defined, int, keyValues, resourceCommand, type CommandModule } from './common.ts';

const FORMATS = ['qcow2', 'raw', 'kernel+initramfs'] as const;

/** image list, create. */
export const imageCommands: CommandModule = (program) => {
  const image = resourceCommand(program, 'image', 'Images');
  image
    .command('list')
    .description('List images')
    .action(async function (this: Command) {
      const c = ctx(this);
      const list = await c.client.images.list();
      c.out(list, () =>
        formatTable(
          ['name', 'format', 'size MiB', 'visibility', 'status'],
          list.map((i) => [i.name, i.format, i.sizeMiB, i.visibility ?? 'public', i.status ?? 'active']),
          [false, false, true, false, false],
        ),
      );
    });
  image
    .command('create <name>')
    .description('Register an image (admin)')
    .requiredOption('--format <format>', FORMATS.join(', '))
    .requiredOption('--size-mib <n>', 'size', int)
    .action(async function (this: Command, name: string, o: { format: string; sizeMib: number }) {
      const c = ctx(this);
      if (!(FORMATS as readonly string[]).includes(o.format))
        throw new CliError(
          'BAD_ARGUMENT',
          `--format must be one of ${FORMATS.join(', ')}, got "${o.format}"`,
        );
      const i = await c.client.images.create({
        name,
        format: o.format as (typeof FORMATS)[number],
        sizeMiB: o.sizeMib,
      });
      c.out(i, () => `image ${i.name}: ${i.format}, ${i.sizeMiB} MiB (id ${i.id})`);
    });
  image
    .command('upload <name> <file>')
    .description('Upload a qcow2 or raw image (streamed; checksummed and checked by the control plane)')
    .option('--public', 'visible to every tenant (admin)')
    .action(async function (this: Command, name: string, file: string, o: { public?: boolean }) {
      const c = ctx(this);
      try {
        if (!statSync(file).isFile()) throw new Error('not a file');
      } catch (e) {
        throw new CliError('BAD_ARGUMENT', `Cannot read ${file}: ${(e as Error).message}`);
      }
      const body = Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>;
      const i = await c.client.imageData.upload(name, body, { public: o.public });
      c.out(
        i,
        () =>
          `image ${i.name}: ${i.format}, ${i.sizeBytes} bytes (virtual ${i.virtualSizeBytes}), sha256 ${i.sha256}, ${i.visibility} (id ${i.id})`,
      );
    });
  image
    .command('download <image> <file>')
    .description("Download an uploaded image's file (checked against its sha256)")
    .action(async function (this: Command, ref: string, file: string) {
      const c = ctx(this);
      const res = await c.client.imageData.download(ref);
      const want = res.headers.get('x-image-sha256') ?? '';
      const hash = createHash('sha256');
      let bytes = 0;
      const body = Readable.fromWeb(res.body! as import('node:stream/web').ReadableStream<Uint8Array>);
      body.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        bytes += chunk.length;
      });
      await pipeline(body, createWriteStream(file, { flags: 'wx' }));
      const got = hash.digest('hex');
      if (want && got !== want) {
        await rm(file, { force: true });
        throw new CliError(
          'CHECKSUM',
          `Downloaded ${bytes} bytes with sha256 ${got}, expected ${want}: removed ${file}`,
        );
      }
      c.out({ image: ref, file, bytes, sha256: got }, () => `${file}: ${bytes} bytes, sha256 ${got}`);
    });
  image
    .command('show <image>')
    .description('An image: format, sizes, checksum, visibility')
    .action(async function (this: Command, ref: string) {
      const c = ctx(this);
      const i = await c.client.imageData.get(ref);
      c.out(i, () => keyValues(i));
    });
  image
    .command('update <image>')
    .description(
      "Rename an image, or change its sizes while nothing uses it (admin); make it public (admin) or private (admin, or your tenant's own)",
    )
    .option('--name <name>', 'new name')
    .option('--size-mib <n>', 'size (only while unused)', int)
    .option('--public', 'visible to every tenant (admin)')
    .option('--private', "visible to its tenant only (admin, or your tenant's own image)")
    .action(async function (this: Command, ref: string, o) {
      const c = ctx(this);
      if (o.public && o.private) throw new CliError('BAD_ARGUMENT', 'Give --public or --private, not both');
      const visibility = o.public ? 'public' : o.private ? 'private' : undefined;
      const x = await c.client.images.update(ref, defined({ name: o.name, sizeMiB: o.sizeMib, visibility }));
      c.out(x, () => `image ${x.name} (id ${x.id}) updated${visibility ? `: ${visibility}` : ''}`);
    });
  image
    .command('delete <image>')
    .description('Delete a image no VM or scaling group uses (admin)')
    .action(async function (this: Command, ref: string) {
      const c = ctx(this);
      await c.client.images.delete(ref);
      c.out({ deleted: ref }, () => `image ${ref} deleted`);
    });
};
