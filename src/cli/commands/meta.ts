/** `nubis whoami`, `overview`, `datacenter`, `health`, `openapi`: the server and the caller. */
import type { Command } from 'commander';
import type { DatacenterSummary } from '../../control/inventory/summary-types.ts';
import { formatTable } from '../table.ts';
import { ctx, keyValues, withConnection, type CommandModule } from './common.ts';

/** whoami, overview, datacenter, health, openapi. */
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
  withConnection(
    program
      .command('datacenter')
      .description(
        'VMs and hosts by state and one line per host (one request at any size; members: their VMs)',
      )
      .option('--no-hosts', 'the counts only'),
  ).action(async function (this: Command) {
    const c = ctx(this);
    const s = await c.client.meta.datacenter({ hosts: this.opts<{ hosts: boolean }>().hosts });
    c.out(s, () => datacenterText(s));
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

const byState = (b: Record<string, number>) =>
  Object.entries(b)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ') || 'none';

/** The summary for people: totals, then one line per host. */
function datacenterText(s: DatacenterSummary): string {
  const lines = [`VMs: ${s.vms.total} (${byState(s.vms.byState)})`];
  if (!s.hosts) return lines.join('\n');
  lines.push(`hosts: ${s.hosts.total} (${byState(s.hosts.byState)})`);
  const h = s.hosts.columns;
  if (h.id.length === 0) return lines.join('\n');
  const pct = (x: number) => `${Math.round(x * 100)}%`;
  const rows = h.id.map((_, i) => [
    h.name[i]!,
    h.state[i]!,
    h.zones[h.zone[i]!] ?? '',
    h.racks[h.rack[i]!] ?? '',
    h.vms[i]!,
    pct(h.cpu[i]!),
    h.powerW[i]!,
    `${h.used.vcpus[i]}/${h.capacity.vcpus[i]}`,
    `${h.used.memoryMiB[i]}/${h.capacity.memoryMiB[i]}`,
    `${h.used.diskGiB[i]}/${h.capacity.diskGiB[i]}`,
  ]);
  const head = ['HOST', 'STATE', 'ZONE', 'RACK', 'VMS', 'CPU', 'POWER W', 'VCPUS', 'MEMORY MIB', 'DISK GIB'];
  lines.push('', formatTable(head, rows, [false, false, false, false, true, true, true, true, true, true]));
  return lines.join('\n');
}
