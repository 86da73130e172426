/** `nubis vm|host|flavor|tenant|token …`: the control plane's CLI (an API client, like the dashboard). */
import type { Command } from 'commander';
import { formatTable } from './table.ts';

class ApiCallError extends Error {
  readonly code = 'API_ERROR';
}

interface Conn {
  url: string;
  token?: string;
  json?: boolean;
}

async function api(
  c: Conn,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers of many shapes
): Promise<any> {
  let res: Response;
  try {
    res = await fetch(c.url.replace(/\/+$/, '') + path, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(c.token ? { authorization: `Bearer ${c.token}` } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiCallError(
      `Cannot reach the control plane at ${c.url}: ${(e as Error).message} (is "nubis serve" running? set --url or NUBIS_URL)`,
    );
  }
  const text = await res.text();
  const data =
    text && (res.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text || undefined;
  if (!res.ok) {
    const reasons =
      Array.isArray(data?.rejected) && data.rejected.length
        ? '\n' +
          data.rejected
            .map(
              (r: { hostName: string; filter: string; reason: string }) =>
                `  ${r.hostName}: ${r.filter}: ${r.reason}`,
            )
            .join('\n')
        : '';
    throw new ApiCallError(`${data?.code ?? res.status}: ${data?.message ?? text}${reasons}`);
  }
  return data;
}

const print = (c: Conn, data: unknown, table: () => string) =>
  process.stdout.write((c.json ? JSON.stringify(data, null, 2) : table()) + '\n');

export function cloudCommands(program: Command): void {
  const conn = (cmd: Command): Conn => {
    const o = cmd.optsWithGlobals() as { url?: string; token?: string; json?: boolean };
    return {
      url: o.url ?? process.env.NUBIS_URL ?? 'http://127.0.0.1:8080',
      token: o.token ?? process.env.NUBIS_TOKEN,
      json: o.json,
    };
  };
  const group = (name: string, desc: string) =>
    program
      .command(name)
      .description(desc)
      .option('--url <url>', 'control plane URL (or NUBIS_URL)')
      .option('--token <token>', 'API token (or NUBIS_TOKEN)')
      .option('--json', 'JSON output for scripts');

  const vm = group('vm', 'Virtual machines');
  vm.command('create')
    .description('Create a VM')
    .requiredOption('--name <name>')
    .requiredOption('--flavor <flavor>')
    .requiredOption('--image <image>')
    .option('--server-group <group>')
    .option('--preset <preset>', 'placement: pack, spread, first-fit')
    .option('--dry-run', 'only say where it would go and why')
    .option('--idempotency-key <key>')
    .action(async function (
      this: Command,
      o: {
        name: string;
        flavor: string;
        image: string;
        serverGroup?: string;
        preset?: string;
        dryRun?: boolean;
        idempotencyKey?: string;
      },
    ) {
      const c = conn(this);
      const r = await api(
        c,
        'POST',
        '/v1/vms',
        {
          name: o.name,
          flavor: o.flavor,
          image: o.image,
          serverGroup: o.serverGroup,
          preset: o.preset,
          dryRun: o.dryRun,
        },
        o.idempotencyKey ? { 'idempotency-key': o.idempotencyKey } : {},
      );
      if (o.dryRun) {
        print(c, r, () => r.explanation);
        return;
      }
      const v = r.vmId ? await api(c, 'GET', `/v1/vms/${r.vmId}`) : undefined;
      print(
        c,
        { operation: r, vm: v },
        () =>
          `${o.name}: ${r.status}${v ? ` — ${v.state} on ${v.hostName} (${v.id})` : ''}${r.error ? ` — ${r.error}` : ''}`,
      );
    });
  vm.command('list')
    .description('List VMs')
    .option('--state <state>')
    .action(async function (this: Command, o: { state?: string }) {
      const c = conn(this);
      const list = await api(c, 'GET', `/v1/vms${o.state ? `?state=${encodeURIComponent(o.state)}` : ''}`);
      print(c, list, () =>
        formatTable(
          ['id', 'name', 'state', 'flavor', 'image', 'host'],
          list.map((v: Record<string, string>) => [
            v.id,
            v.name,
            v.state,
            v.flavor,
            v.image,
            v.hostName ?? '',
          ]),
        ),
      );
    });
  vm.command('show <id>')
    .description('Show a VM')
    .action(async function (this: Command, id: string) {
      const c = conn(this);
      const v = await api(c, 'GET', `/v1/vms/${encodeURIComponent(id)}`);
      print(c, v, () =>
        Object.entries(v)
          .map(([k, x]) => `${k.padEnd(15)} ${Array.isArray(x) ? x.join(', ') : x}`)
          .join('\n'),
      );
    });
  vm.command('migrate <id>')
    .description('Live-migrate a VM')
    .option('--to <host>', 'target host (default: where placement says)')
    .option('--mode <mode>', 'stop-and-copy, precopy, postcopy')
    .option('--downtime-target-ms <ms>', 'let the models choose settings for this downtime')
    .option('--bandwidth-mbps <n>')
    .action(async function (
      this: Command,
      id: string,
      o: { to?: string; mode?: string; downtimeTargetMs?: string; bandwidthMbps?: string },
    ) {
      const c = conn(this);
      const r = await api(c, 'POST', `/v1/vms/${encodeURIComponent(id)}/migrate`, {
        toHost: o.to,
        mode: o.mode,
        downtimeTargetMs: o.downtimeTargetMs ? Number(o.downtimeTargetMs) : undefined,
        bandwidthMbps: o.bandwidthMbps ? Number(o.bandwidthMbps) : undefined,
      });
      print(
        c,
        r,
        () =>
          `${id}: migrate ${r.status}${r.result ? ` (${r.result.modeUsed ?? ''}, ${Math.round(r.result.totalMs ?? 0)} ms, downtime ${Math.round(r.result.downtimeMs ?? 0)} ms)` : ''}${r.error ? ` — ${r.error}` : ''}`,
      );
    });
  for (const action of ['start', 'stop', 'reboot', 'suspend', 'resume', 'delete'] as const) {
    vm.command(`${action} <id>`)
      .description(`${action[0]!.toUpperCase()}${action.slice(1)} a VM`)
      .action(async function (this: Command, id: string) {
        const c = conn(this);
        const r =
          action === 'delete'
            ? await api(c, 'DELETE', `/v1/vms/${encodeURIComponent(id)}`)
            : await api(c, 'POST', `/v1/vms/${encodeURIComponent(id)}/actions`, { action });
        print(c, r, () => `${id}: ${action} ${r.status}${r.error ? ` — ${r.error}` : ''}`);
      });
  }

  const host = group('host', 'Hosts (operators)');
  host
    .command('list')
    .description('List hosts')
    .action(async function (this: Command) {
      const c = conn(this);
      const list = await api(c, 'GET', '/v1/hosts');
      print(c, list, () =>
        formatTable(
          ['name', 'state', 'rack', 'vCPUs used/cap', 'memory MiB used/cap', 'VMs'],
          list.map(
            (h: {
              name: string;
              state: string;
              rack: string;
              used: { vcpus: number; memoryMiB: number };
              capacity: { vcpus: number; memoryMiB: number };
              overcommit: { cpu: number };
              vms: number;
            }) => [
              h.name,
              h.state,
              h.rack,
              `${h.used.vcpus}/${h.capacity.vcpus * h.overcommit.cpu}`,
              `${h.used.memoryMiB}/${h.capacity.memoryMiB}`,
              h.vms,
            ],
          ),
        ),
      );
    });
  host
    .command('drain <host>')
    .description('Live-migrate every VM off a host, then keep it in maintenance')
    .action(async function (this: Command, h: string) {
      const c = conn(this);
      const r = await api(c, 'POST', `/v1/hosts/${encodeURIComponent(h)}/drain`);
      print(
        c,
        r,
        () =>
          `${r.host}: ${r.state}; moved ${r.moved.length} VM(s)${r.stuck.length ? `; could not move: ${r.stuck.map((x: { vm: string; reason: string }) => `${x.vm} (${x.reason})`).join(', ')}` : ''}`,
      );
    });
  host
    .command('undrain <host>')
    .description('Put a host back in service')
    .action(async function (this: Command, h: string) {
      const c = conn(this);
      const r = await api(c, 'POST', `/v1/hosts/${encodeURIComponent(h)}/undrain`);
      print(c, r, () => `${r.name}: ${r.state}`);
    });
  host
    .command('power <host> <action>')
    .description(
      "Switch a host on or off (off: it must be empty); real hosts through their agents' power command",
    )
    .action(async function (this: Command, h: string, action: string) {
      const c = conn(this);
      if (action !== 'on' && action !== 'off')
        throw new RangeError(`action must be on or off, got "${action}"`);
      const r = await api(c, 'POST', `/v1/hosts/${encodeURIComponent(h)}/power`, { action });
      print(c, r, () => `${r.host}: ${r.state}`);
    });
  host
    .command('set-state <host> <state>')
    .description('up, maintenance, off, failed')
    .action(async function (this: Command, h: string, state: string) {
      const c = conn(this);
      const r = await api(c, 'PATCH', `/v1/hosts/${encodeURIComponent(h)}`, { state });
      print(c, r, () => `${r.name}: ${r.state}`);
    });

  const flavor = group('flavor', 'Flavors');
  flavor
    .command('list')
    .description('List flavors')
    .action(async function (this: Command) {
      const c = conn(this);
      const list = await api(c, 'GET', '/v1/flavors');
      print(c, list, () =>
        formatTable(
          ['name', 'vCPUs', 'memory MiB', 'disk GiB'],
          list.map((f: Record<string, string>) => [f.name, f.vcpus, f.memoryMiB, f.diskGiB]),
          [false, true, true, true],
        ),
      );
    });

  const tenant = group('tenant', 'Tenants (admin)');
  tenant
    .command('create <name>')
    .description('Create a tenant')
    .option('--vcpus <n>')
    .option('--memory-mib <n>')
    .option('--vms <n>')
    .action(async function (
      this: Command,
      name: string,
      o: { vcpus?: string; memoryMib?: string; vms?: string },
    ) {
      const c = conn(this);
      const quotas = Object.fromEntries(
        Object.entries({ vcpus: o.vcpus, memoryMiB: o.memoryMib, vms: o.vms })
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => [k, Number(v)]),
      );
      const r = await api(c, 'POST', '/v1/tenants', { name, quotas });
      print(c, r, () => `tenant ${r.name} (${r.id})`);
    });
  tenant
    .command('list')
    .description('List tenants')
    .action(async function (this: Command) {
      const c = conn(this);
      const list = await api(c, 'GET', '/v1/tenants');
      print(c, list, () =>
        formatTable(
          ['name', 'id', 'quota vCPUs', 'quota memory MiB', 'quota VMs'],
          list.map((t: { name: string; id: string; quotas: Record<string, number> }) => [
            t.name,
            t.id,
            t.quotas.vcpus!,
            t.quotas.memoryMiB!,
            t.quotas.vms!,
          ]),
        ),
      );
    });

  const usage = group('usage', 'Usage (metering)');
  usage
    .command('show')
    .description('Usage of a tenant in a period')
    .requiredOption('--from <YYYY-MM-DD|ISO time>', 'start (YYYY-MM-DD is midnight UTC)')
    .requiredOption('--to <YYYY-MM-DD|ISO time>', 'end, excluded')
    .option('--tenant <tenant>')
    .action(async function (this: Command, o: { from: string; to: string; tenant?: string }) {
      const c = conn(this);
      const q = new URLSearchParams({ from: o.from, to: o.to, ...(o.tenant ? { tenant: o.tenant } : {}) });
      const r = await api(c, 'GET', `/v1/usage?${q}`);
      print(c, r, () =>
        formatTable(
          ['vm', 'flavor', 'running s', 'stopped s', 'vCPU h', 'memory GiB h', 'disk GiB h', 'energy kWh'],
          r.vms.map((v: Record<string, number | string>) => [
            v.vm!,
            v.flavor!,
            v.runningS!,
            v.stoppedS!,
            Number(v.vcpuHours).toFixed(3),
            Number(v.memoryGiBHours).toFixed(3),
            Number(v.diskGiBHours).toFixed(3),
            Number(v.energyKWh).toFixed(4),
          ]),
          [false, false, true, true, true, true, true, true],
        ),
      );
    });
  usage
    .command('energy')
    .description('Metered energy by host, zone or tenant over whole UTC days (IT and × PUE)')
    .requiredOption('--from <YYYY-MM-DD|ISO time>', 'first UTC day')
    .requiredOption('--to <YYYY-MM-DD|ISO time>', 'last UTC day, included')
    .option('--by <what>', 'host, zone or tenant', 'tenant')
    .action(async function (this: Command, o: { from: string; to: string; by: string }) {
      const c = conn(this);
      const r = await api(
        c,
        'GET',
        `/v1/energy?${new URLSearchParams({ from: o.from, to: o.to, by: o.by })}`,
      );
      print(c, r, () =>
        formatTable(
          [o.by, 'IT kWh', `facility kWh (PUE ${r.pue})`],
          [
            ...r.rows.map((x: { name: string; itKWh: number; facilityKWh: number }) => [
              x.name,
              x.itKWh.toFixed(3),
              x.facilityKWh.toFixed(3),
            ]),
            ['total', r.totals.itKWh.toFixed(3), r.totals.facilityKWh.toFixed(3)],
          ],
          [false, true, true],
        ),
      );
    });
  program
    .command('invoice')
    .description("A tenant's invoice for a period")
    .option('--url <url>')
    .option('--token <token>')
    .option('--json')
    .option('--csv', 'CSV output')
    .requiredOption('--from <YYYY-MM-DD|ISO time>', 'start (YYYY-MM-DD is midnight UTC)')
    .requiredOption('--to <YYYY-MM-DD|ISO time>', 'end, excluded')
    .option('--tenant <tenant>')
    .action(async function (this: Command, o: { from: string; to: string; tenant?: string; csv?: boolean }) {
      const c = conn(this);
      const q = new URLSearchParams({
        from: o.from,
        to: o.to,
        ...(o.tenant ? { tenant: o.tenant } : {}),
        ...(o.csv ? { format: 'csv' } : {}),
      });
      const r = await api(c, 'GET', `/v1/invoices?${q}`);
      if (o.csv) {
        process.stdout.write(typeof r === 'string' ? r : String(r));
        return;
      }
      print(
        c,
        r,
        () =>
          formatTable(
            ['flavor', 'tariff', 'running s', 'stopped s', 'amount'],
            [
              ...r.lines.map((l: Record<string, string | number>) => [
                l.flavor!,
                l.tariff!,
                l.runningS!,
                l.stoppedS!,
                `${Number(l.amount).toFixed(2)} ${l.currency}`,
              ]),
              // One total per currency: different currencies are never added.
              ...r.totals.map((t: { currency: string; amount: number }) => [
                'total',
                '',
                '',
                '',
                `${t.amount.toFixed(2)} ${t.currency}`,
              ]),
            ],
            [false, false, true, true, true],
          ) + (r.notice ? `\n${r.notice}` : ''),
      );
    });

  const plan = group('plan', 'Consolidation plans (operators)');
  type ShownAction = {
    type: string;
    vmName?: string;
    hostName?: string;
    reason: string;
    cost?: { timeS?: number; dataMiB?: number; watts?: number };
    gain?: { wattsSaved?: number; loadMoved?: number };
  };
  const costGain = (a: ShownAction) =>
    a.type === 'migrate'
      ? `${a.cost!.timeS!.toFixed(1)} s, ${a.cost!.dataMiB!.toFixed(0)} MiB${a.gain?.loadMoved !== undefined ? `; moves ${(a.gain.loadMoved * 100).toFixed(0)} % of the host's CPU` : ''}`
      : a.type === 'power-on'
        ? `adds ${a.cost!.watts!.toFixed(0)} W`
        : `saves ${a.gain!.wattsSaved!.toFixed(0)} W`;
  const showPlan = (r: {
    id: string;
    status: string;
    zone?: string | null;
    summary: string;
    actions: ShownAction[];
    result?: unknown;
  }) =>
    `plan ${r.id}: ${r.status}${r.zone ? ` (zone ${r.zone})` : ''}\n${r.summary}\n` +
    formatTable(
      ['#', 'action', 'what', 'why', 'cost / gain'],
      r.actions.map((a, i) => [
        i + 1,
        a.type,
        a.type === 'migrate' ? a.vmName! : a.hostName!,
        a.reason,
        costGain(a),
      ]),
    ) +
    (r.result ? `\nresult: ${JSON.stringify(r.result)}` : '');
  const collectMoves = (v: string, prev: string[]) => [...prev, v];
  plan
    .command('audit')
    .description(
      'Propose a plan from the live state (reservation packing, a load-aware preset such as lr-mmt:1.2, or your own moves)',
    )
    .option('--spare-hosts <n>')
    .option('--hold-down-s <s>')
    .option('--payback-horizon-s <s>')
    .option('--policy <preset>', 'reservation (default) or DETECTOR-SELECTION[:PARAM], e.g. lr-mmt:1.2')
    .option('--zone <zone>', 'only this zone (cluster)')
    .option(
      '--move <vm=host>',
      'a move you want (repeatable); ordered so every step fits, cycles routed through a free host',
      collectMoves,
      [],
    )
    .action(async function (
      this: Command,
      o: {
        spareHosts?: string;
        holdDownS?: string;
        paybackHorizonS?: string;
        policy?: string;
        zone?: string;
        move: string[];
      },
    ) {
      const c = conn(this);
      const body: Record<string, unknown> = Object.fromEntries(
        Object.entries({
          spareHosts: o.spareHosts,
          holdDownS: o.holdDownS,
          paybackHorizonS: o.paybackHorizonS,
        })
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => [k, Number(v)]),
      );
      if (o.policy) body.policy = o.policy;
      if (o.zone) body.zone = o.zone;
      if (o.move.length)
        body.moves = o.move.map((m) => {
          const [vm, to] = m.split('=');
          if (!vm || !to) throw new RangeError(`--move must be VM=HOST, got "${m}"`);
          return { vm, to };
        });
      const r = await api(c, 'POST', '/v1/plans', body);
      print(c, r, () => showPlan(r));
    });
  plan
    .command('list')
    .description('Recent plans')
    .action(async function (this: Command) {
      const c = conn(this);
      const list = await api(c, 'GET', '/v1/plans');
      print(c, list, () =>
        formatTable(
          ['id', 'status', 'created', 'summary'],
          list.map((r: Record<string, string>) => [r.id!, r.status!, r.createdAt!, r.summary!]),
        ),
      );
    });
  for (const [cmd, method, suffix] of [
    ['show', 'GET', ''],
    ['apply', 'POST', '/apply'],
    ['discard', 'POST', '/discard'],
  ] as const) {
    plan
      .command(`${cmd} <id>`)
      .description(`${cmd[0]!.toUpperCase()}${cmd.slice(1)} a plan`)
      .action(async function (this: Command, id: string) {
        const c = conn(this);
        const r = await api(c, method, `/v1/plans/${encodeURIComponent(id)}${suffix}`);
        print(c, r, () => showPlan(r));
      });
  }

  const token = group('token', 'API tokens');
  token
    .command('create')
    .description('Create a token (shown once)')
    .requiredOption('--name <name>')
    .option('--user <userId>')
    .option('--expires-in-s <s>')
    .action(async function (this: Command, o: { name: string; user?: string; expiresInS?: string }) {
      const c = conn(this);
      const r = await api(c, 'POST', '/v1/tokens', {
        name: o.name,
        userId: o.user,
        expiresInS: o.expiresInS ? Number(o.expiresInS) : undefined,
      });
      print(c, r, () => r.token);
    });
}
