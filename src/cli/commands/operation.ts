/** `nubis operation …`: the record of a multi-step change. */
import type { Command } from 'commander';
import { ctx, keyValues, resourceCommand, type CommandModule } from './common.ts';

/** operation show. */
export const operationCommands: CommandModule = (program) => {
  const op = resourceCommand(program, 'operation', 'Operations (creates, actions, migrations)');
  op.command('show <id>')
    .description('Show an operation: its status, result or error')
    .action(async function (this: Command, id: string) {
      const c = ctx(this);
      const r = await c.client.operations.get(id);
      c.out(r, () => keyValues(r));
    });
};
