/** `nubis image …`: images. */
import type { Command } from 'commander';
import { formatTable } from '../table.ts';
import { CliError, ctx, defined, int, resourceCommand, type CommandModule } from './common.ts';

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
          ['name', 'format', 'size MiB'],
          list.map((i) => [i.name, i.format, i.sizeMiB]),
          [false, false, true],
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
    .command('update <image>')
    .description('Rename a image, or change its sizes while nothing uses it (admin)')
    .option('--name <name>', 'new name')
    .option('--size-mib <n>', 'size (only while unused)', int)
    .action(async function (this: Command, ref: string, o) {
      const c = ctx(this);
      const x = await c.client.images.update(ref, defined({ name: o.name, sizeMiB: o.sizeMib }));
      c.out(x, () => `image ${x.name} (id ${x.id}) updated`);
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
