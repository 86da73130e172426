/** `nubis user …`: users (admin). */
import type { Command } from 'commander';
import type { Role } from '../../client/index.ts';
import { CliError, ctx, resourceCommand, type CommandModule } from './common.ts';

const ROLES: Role[] = ['admin', 'operator', 'member', 'reader'];

/** user create. */
export const userCommands: CommandModule = (program) => {
  const user = resourceCommand(program, 'user', 'Users (admin)');
  user
    .command('create <name>')
    .description(
      'Create a user in a tenant with a role; then `nubis token create --user ID` gives it a token',
    )
    .requiredOption('--tenant <tenant>', 'tenant name or id')
    .requiredOption('--role <role>', ROLES.join(', '))
    .action(async function (this: Command, name: string, o: { tenant: string; role: string }) {
      const c = ctx(this);
      if (!ROLES.includes(o.role as Role))
        throw new CliError('BAD_ARGUMENT', `--role must be one of ${ROLES.join(', ')}, got "${o.role}"`);
      const u = await c.client.users.create({ tenant: o.tenant, name, role: o.role as Role });
      c.out(u, () => `user ${u.name} (id ${u.id}): ${u.role} in tenant ${u.tenantId}`);
    });
};
