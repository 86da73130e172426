/** `nubis token …`: API tokens. */
import type { Command } from 'commander';
import { ctx, int, resourceCommand, type CommandModule } from './common.ts';

/** token create, revoke. */
export const tokenCommands: CommandModule = (program) => {
  const token = resourceCommand(program, 'token', 'API tokens');
  token
    .command('create')
    .description('Create a token: its secret is printed this once (admins may create one for any user)')
    .requiredOption('--name <name>')
    .option('--user <userId>', 'the user (admin; default: yourself)')
    .option('--expires-in-s <s>', 'lifetime in seconds', int)
    .action(async function (this: Command, o: { name: string; user?: string; expiresInS?: number }) {
      const c = ctx(this);
      const t = await c.client.tokens.create({ name: o.name, userId: o.user, expiresInS: o.expiresInS });
      // The secret is the point of this command: stdout only, nothing else on the line (scripts capture it).
      c.out(t, () => t.token);
    });
  token
    .command('revoke <id>')
    .description('Revoke a token by id')
    .action(async function (this: Command, id: string) {
      const c = ctx(this);
      await c.client.tokens.revoke(id);
      c.out({ id, revoked: true }, () => `token ${id}: revoked`);
    });
};
