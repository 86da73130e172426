/** `nubis settings …`: data-center settings (admin). Automation: `nubis automation`. */
import type { Command } from 'commander';
import { ctx, int, num, resourceCommand, type CommandModule } from './common.ts';

/** settings pue, ha-failover-hosts. */
export const settingsCommands: CommandModule = (program) => {
  const settings = resourceCommand(program, 'settings', 'Data-center settings (admin)');
  settings
    .command('pue')
    .argument('<pue>', 'e.g. 1.4', num)
    .description("Set the data center's power usage effectiveness (facility energy = IT energy × PUE)")
    .action(async function (this: Command, pue: number) {
      const c = ctx(this);
      const r = await c.client.settings.setPue(pue);
      c.out(r, () => `PUE ${r.pue}`);
    });
  settings
    .command('ha-failover-hosts')
    .argument('<n>', '0 or 1', int)
    .description('HA admission control: keep failover capacity for 0 or 1 host failure')
    .action(async function (this: Command, n: number) {
      const c = ctx(this);
      const r = await c.client.settings.setHa(n);
      c.out(r, () => `HA failover capacity: ${r.failoverHosts} host(s)`);
    });
};
