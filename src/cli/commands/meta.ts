/** `nubis whoami`, `nubis overview`, `nubis health`, `nubis openapi`: the server and the caller. */
import type { Command } from 'commander';
import { ctx, keyValues, withConnection, type CommandModule } from './common.ts';

/** whoami, overview, health, openapi. */
export const metaCommands: CommandModule = (program) => {
  withConnection(program.command('whoami').description('Who the token belongs to')).action(async function (
    this: Command,
  ) {
    const c = ctx(this);
    const me = await c.client.meta.me();
    c.out(me, () => `${me.userName} (${me.role}) in tenant ${me.tenantId}`);
  });
  withConnection(
    program
      .command('overview')
      .description("Hosts and VMs by state, power now, energy today (members: their tenant's)"),
  ).action(async function (this: Command) {
    const c = ctx(this);
    const o = await c.client.meta.overview();
    c.out(o, () => keyValues(o));
  });
  withConnection(program.command('health').description('Is the control plane up? (no token needed)')).action(
    async function (this: Command) {
      const c = ctx(this);
      const h = await c.client.meta.health();
      c.out(h, () => (h.ok ? 'ok' : 'not ok'));
    },
  );
  withConnection(
    program
      .command('openapi')
      .description('Every operation of the API (GET /openapi.json; --json for the document)'),
  ).action(async function (this: Command) {
    const c = ctx(this);
    const doc = await c.client.meta.openapi();
    c.out(doc, () =>
      Object.entries(doc.paths)
        .flatMap(([path, ops]) =>
          Object.entries(ops).map(([m, op]) => `${m.toUpperCase().padEnd(6)} ${path}  ${op.summary}`),
        )
        .join('\n'),
    );
  });
};
