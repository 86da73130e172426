/** `nubis image …`: images. */
import type { Command } from 'commander';
import { formatTable } from '../table.ts';
import { CliError, ctx, int, resourceCommand, type CommandModule } from './common.ts';

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
};
