/** `nubis user …`: users (admin). */
import type { Command } from 'commander';
import type { Role } from '../../client/index.ts';
import { formatTable } from '../table.ts';
import { CliError, ctx, defined, resourceCommand, type CommandModule } from './common.ts';

const ROLES: Role[] = ['admin', 'operator', 'member', 'reader'];

/** user create, list, set-role, delete. */
export const userCommands: CommandModule = (program) => {
  const user = resourceCommand(program, 'user', 'Users (admin)');
  user
    .command('create [name]')
    .description(
      'Create a user in a tenant with a role; then `nubis token create --user ID` gives it a token, ' +
        'or with a password it logs in to the OpenStack API (Keystone)',
    )
    .option('--name <name>', 'the user name (instead of the argument)')
    .requiredOption('--tenant <tenant>', 'tenant name or id')
    .requiredOption('--role <role>', ROLES.join(', '))
    .option(
      '--password <password>',
      'a password for Keystone logins (visible to other local users: prefer --password-stdin)',
    )
    .option('--password-stdin', "read the password from stdin's first line")
    .action(async function (
      this: Command,
      arg: string | undefined,
      o: { name?: string; tenant: string; role: string; password?: string; passwordStdin?: boolean },
    ) {
      const c = ctx(this);
      const name = o.name ?? arg;
      if (!name) throw new CliError('BAD_ARGUMENT', 'Name the user (argument or --name)');
      if (arg && o.name && arg !== o.name)
        throw new CliError('BAD_ARGUMENT', `Two names given: "${arg}" and --name "${o.name}"`);
      if (!ROLES.includes(o.role as Role))
        throw new CliError('BAD_ARGUMENT', `--role must be one of ${ROLES.join(', ')}, got "${o.role}"`);
      if (o.password !== undefined && o.passwordStdin)
        throw new CliError('BAD_ARGUMENT', '--password and --password-stdin are exclusive');
      let password = o.password;
      if (o.passwordStdin) {
        let text = '';
        for await (const chunk of process.stdin) text += chunk;
        password = text.split(/\r?\n/)[0]!;
      }
      if (password !== undefined && !password) throw new CliError('BAD_ARGUMENT', 'The password is empty');
      const u = await c.client.users.create({
        tenant: o.tenant,
        name,
        role: o.role as Role,
        ...(password ? { password } : {}),
      });
      c.out(u, () => `user ${u.name} (id ${u.id}): ${u.role} in tenant ${u.tenantId}`);
    });
  user
    .command('list')
    .description('List users (admin: everyone, or one tenant; others: themselves)')
    .option('--tenant <tenant>', 'tenant name or id')
    .action(async function (this: Command, o: { tenant?: string }) {
      const c = ctx(this);
      const list = await c.client.users.list(defined({ tenant: o.tenant }));
      c.out(list, () =>
        formatTable(
          ['name', 'tenant', 'role', 'id'],
          list.map((u) => [u.name, u.tenant ?? u.tenantId, u.role, u.id]),
        ),
      );
    });
  user
    .command('set-role <id> <role>')
    .description(`Change a user's role (${ROLES.join(', ')}; not the last admin's)`)
    .action(async function (this: Command, id: string, role: string) {
      const c = ctx(this);
      if (!ROLES.includes(role as Role))
        throw new CliError('BAD_ARGUMENT', `role must be one of ${ROLES.join(', ')}, got "${role}"`);
      const u = await c.client.users.update(id, { role: role as Role });
      c.out(u, () => `user ${u.name}: ${u.role}`);
    });
  user
    .command('delete <id>')
    .description('Delete a user and their tokens (not the last admin)')
    .action(async function (this: Command, id: string) {
      const c = ctx(this);
      await c.client.users.delete(id);
      c.out({ deleted: id }, () => `user ${id} deleted`);
    });
};
