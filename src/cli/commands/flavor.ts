/** `nubis flavor …`: flavors (VM sizes). */
import type { Command } from 'commander';
import { formatTable } from '../table.ts';
import { ctx, defined, int, resourceCommand, type CommandModule } from './common.ts';

/** flavor list, create. */
export const flavorCommands: CommandModule = (program) => {
  const flavor = resourceCommand(program, 'flavor', 'Flavors (VM sizes)');
  flavor
    .command('list')
    .description('List flavors')
    .action(async function (this: Command) {
      const c = ctx(this);
      const list = await c.client.flavors.list();
      c.out(list, () =>
        formatTable(
          ['name', 'vCPUs', 'memory MiB', 'disk GiB'],
          list.map((f) => [f.name, f.vcpus, f.memoryMiB, f.diskGiB]),
          [false, true, true, true],
        ),
      );
    });
  flavor
    .command('create <name>')
    .description('Create a flavor (admin)')
    .requiredOption('--vcpus <n>', 'virtual CPUs', int)
    .requiredOption('--memory-mib <n>', 'memory', int)
    .requiredOption('--disk-gib <n>', 'disk', int)
    .action(async function (
      this: Command,
      name: string,
      o: { vcpus: number; memoryMib: number; diskGib: number },
    ) {
      const c = ctx(this);
      const f = await c.client.flavors.create({
        name,
        vcpus: o.vcpus,
        memoryMiB: o.memoryMib,
        diskGiB: o.diskGib,
      });
      c.out(f, () => `flavor ${f.name}: ${f.vcpus} vCPU, ${f.memoryMiB} MiB, ${f.diskGiB} GiB (id ${f.id})`);
    });
  flavor
    .command('update <flavor>')
    .description('Rename a flavor, or change its sizes while nothing uses it (admin)')
    .option('--name <name>', 'new name')
    .option('--vcpus <n>', 'virtual CPUs (only while unused)', int)
    .option('--memory-mib <n>', 'memory (only while unused)', int)
    .option('--disk-gib <n>', 'disk (only while unused)', int)
    .action(async function (this: Command, ref: string, o) {
      const c = ctx(this);
      const x = await c.client.flavors.update(
        ref,
        defined({ name: o.name, vcpus: o.vcpus, memoryMiB: o.memoryMib, diskGiB: o.diskGib }),
      );
      c.out(x, () => `flavor ${x.name} (id ${x.id}) updated`);
    });
  flavor
    .command('delete <flavor>')
    .description('Delete a flavor no VM or scaling group uses (admin)')
    .action(async function (this: Command, ref: string) {
      const c = ctx(this);
      await c.client.flavors.delete(ref);
      c.out({ deleted: ref }, () => `flavor ${ref} deleted`);
    });
};
