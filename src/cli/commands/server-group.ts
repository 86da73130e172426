/** `nubis server-group …`: server groups (affinity, anti-affinity, hard or soft). */
import type { Command } from 'commander';
import type { ServerGroupPolicy } from '../../client/index.ts';
import { formatTable } from '../table.ts';
import { CliError, ctx, resourceCommand, type CommandModule } from './common.ts';

const POLICIES: ServerGroupPolicy[] = ['affinity', 'anti-affinity', 'soft-affinity', 'soft-anti-affinity'];

/** server-group list, create. */
export const serverGroupCommands: CommandModule = (program) => {
  const group = resourceCommand(program, 'server-group', 'Server groups (VMs kept together or apart)');
  group
    .command('list')
    .description("List server groups (your tenant's; all for admins and operators)")
    .action(async function (this: Command) {
      const c = ctx(this);
      const list = await c.client.serverGroups.list();
      c.out(list, () =>
        formatTable(
          ['name', 'policy', 'id', 'tenant'],
          list.map((g) => [g.name, g.policy, g.id, g.tenantId]),
        ),
      );
    });
  group
    .command('create <name>')
    .description('Create a server group; VMs join it with `vm create --server-group NAME`')
    .requiredOption('--policy <policy>', POLICIES.join(', '))
    .action(async function (this: Command, name: string, o: { policy: string }) {
      const c = ctx(this);
      if (!POLICIES.includes(o.policy as ServerGroupPolicy))
        throw new CliError(
          'BAD_ARGUMENT',
          `--policy must be one of ${POLICIES.join(', ')}, got "${o.policy}"`,
        );
      const g = await c.client.serverGroups.create({ name, policy: o.policy as ServerGroupPolicy });
      c.out(g, () => `server group ${g.name}: ${g.policy} (id ${g.id})`);
    });
};
