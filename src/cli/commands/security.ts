/** `nubis security …`: the security event log (admins). */
import type { Command } from 'commander';
import { formatTable } from '../table.ts';
import { ctx, int, resourceCommand, type CommandModule } from './common.ts';

/** security events. */
export const securityCommands: CommandModule = (program) => {
  const security = resourceCommand(program, 'security', 'The security event log (admins)');
  security
    .command('events')
    .description(
      'Failed logins, denied actions, tokens created, revoked or used from a new address, enrollments; oldest first',
    )
    .option(
      '--kind <kind>',
      'only this kind (login.failed, access.denied, token.created, token.revoked, ...)',
    )
    .option('--after <id>', 'only events after this id', int)
    .option('--limit <n>', 'at most this many (default 100; without --after, the newest)', int)
    .action(async function (this: Command, o: { kind?: string; after?: number; limit?: number }) {
      const c = ctx(this);
      const list = await c.client.securityEvents.list({ kind: o.kind, after: o.after, limit: o.limit });
      c.out(list, () =>
        formatTable(
          ['id', 'at', 'kind', 'principal', 'source', 'operation', 'object'],
          list.map((e) => [
            e.id,
            e.at,
            e.kind,
            e.principal ?? '',
            e.source ?? '',
            e.operation ?? '',
            e.object ?? '',
          ]),
        ),
      );
    });
};
