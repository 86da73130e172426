/** `nubis token …`: API tokens. */
import type { Command } from 'commander';
import { writePrivateFile } from '../credentials.ts';
import { formatTable } from '../table.ts';
import { CliError, ctx, defined, int, resourceCommand, type CommandModule } from './common.ts';

/** token create, revoke, list. */
export const tokenCommands: CommandModule = (program) => {
  const token = resourceCommand(program, 'token', 'API tokens');
  token
    .command('create')
    .description(
      'Create a token: its secret is printed this once on a terminal, or written to --output FILE (mode 0600)',
    )
    .requiredOption('--name <name>')
    .option('--user <userId>', 'the user (admin; default: yourself)')
    .option('--expires-in-s <s>', 'lifetime in seconds', int)
    .option('--output <file>', 'write the token to this file (mode 0600) instead of the terminal')
    .action(async function (
      this: Command,
      o: { name: string; user?: string; expiresInS?: number; output?: string },
    ) {
      const c = ctx(this);
      // A secret on a pipe ends up in logs and CI output: refused before the token exists.
      if (!o.output && !process.stdout.isTTY)
        throw new CliError(
          'SECRET_NOT_ON_TERMINAL',
          'stdout is not a terminal: the token is printed only on a terminal; give --output FILE to write it to a 0600 file',
        );
      const t = await c.client.tokens.create({ name: o.name, userId: o.user, expiresInS: o.expiresInS });
      if (o.output) {
        writePrivateFile(o.output, `${t.token}\n`);
        const { token: _secret, ...rest } = t;
        c.out(
          { ...rest, output: o.output },
          () => `token ${t.id} (${t.name}) written to ${o.output} (mode 0600)`,
        );
      } else c.out(t, () => t.token);
    });
  token
    .command('revoke <id>')
    .description('Revoke a token by id')
    .action(async function (this: Command, id: string) {
      const c = ctx(this);
      await c.client.tokens.revoke(id);
      c.out({ id, revoked: true }, () => `token ${id}: revoked`);
    });
  token
    .command('list')
    .description("List tokens, never their secret (yours; admins: everyone's, or one user's)")
    .option('--user <userId>', "one user's tokens (admin)")
    .action(async function (this: Command, o: { user?: string }) {
      const c = ctx(this);
      const list = await c.client.tokens.list(defined({ user: o.user }));
      c.out(list, () =>
        formatTable(
          ['name', 'user', 'id', 'created', 'expires', 'revoked'],
          list.map((t) => [t.name, t.user, t.id, t.createdAt, t.expiresAt ?? '', t.revokedAt ?? '']),
        ),
      );
    });
};
