/** `nubis flavor …`: flavors (VM sizes). */
import type { Command } from 'commander';
import { formatTable } from '../table.ts';
import { ctx, int, resourceCommand, type CommandModule } from './common.ts';

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
};
