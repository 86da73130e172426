/** `nubis event …`: the audit trail. */
import type { Command } from 'commander';
import { formatTable } from '../table.ts';
import { ctx, hostId, int, resourceCommand, vmId, type CommandModule } from './common.ts';

/** event list. */
export const eventCommands: CommandModule = (program) => {
  const event = resourceCommand(program, 'event', 'The audit trail');
  event
    .command('list')
    .description(
      "Events, newest first; with --after, oldest first after that event (your tenant's; all for admins and operators)",
    )
    .option('--vm <vm>', 'only this VM (name or id)')
    .option('--host <host>', 'only this host (name or id)')
    .option('--after <id>', 'only events after this event id', int)
    .option('--limit <n>', 'at most this many (default 100)', int)
    .action(async function (
      this: Command,
      o: { vm?: string; host?: string; after?: number; limit?: number },
    ) {
      const c = ctx(this);
      const list = await c.client.events.list({
        vm: o.vm && (await vmId(c, o.vm)),
        host: o.host && (await hostId(c, o.host)),
        after: o.after,
        limit: o.limit,
      });
      c.out(list, () =>
        formatTable(
          ['id', 'at', 'kind', 'actor', 'detail'],
          list.map((e) => [e.id, e.at, e.kind, e.actor ?? '', JSON.stringify(e.detail)]),
        ),
      );
    });
};
