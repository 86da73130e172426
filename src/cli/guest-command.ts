/** `nubis guest …`: talk to a host agent directly (before and besides the control plane). */
import { Option, type Command } from 'commander';
import { AGENT_TOKEN_ON_ARGV, AgentArgvError } from './agent-command.ts';
import { formatTable } from './table.ts';

class AgentCallError extends Error {
  readonly code = 'AGENT_ERROR';
}

interface Global {
  agent: string;
  token?: string;
  json?: boolean;
}

async function call(g: Global, method: string, path: string, body?: unknown): Promise<unknown> {
  const url = g.agent.replace(/\/+$/, '') + path;
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(g.token ? { authorization: `Bearer ${g.token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new AgentCallError(`Cannot reach the agent at ${g.agent}: ${(e as Error).message}`);
  }
  const text = await res.text();
  const data = text ? JSON.parse(text) : undefined;
  if (!res.ok) throw new AgentCallError(`${data?.code ?? res.status}: ${data?.message ?? text}`);
  return data;
}

function out(g: Global, data: unknown, table: () => string): void {
  process.stdout.write((g.json ? JSON.stringify(data, null, 2) : table()) + '\n');
}

const num = (name: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new RangeError(`--${name} must be a number, got "${v}"`);
  return n;
};

export function guestCommand(program: Command): void {
  const guest = program
    .command('guest')
    .description('Manage guests on one host agent')
    .option(
      '--agent <url>',
      'agent URL (or NUBIS_AGENT_URL)',
      process.env.NUBIS_AGENT_URL ?? 'http://127.0.0.1:7070',
    )
    .addOption(new Option('--token <token>').hideHelp())
    .option('--json', 'JSON output for scripts');
  // The agent token comes from NUBIS_AGENT_TOKEN only: never on the command line.
  const g = (): Global => {
    const o = guest.opts() as Global;
    if (o.token !== undefined) throw new AgentArgvError(AGENT_TOKEN_ON_ARGV);
    return { ...o, token: process.env.NUBIS_AGENT_TOKEN };
  };

  guest
    .command('list')
    .description('List guests')
    .action(async () => {
      const list = (await call(g(), 'GET', '/v1/guests')) as {
        id: string;
        state: string;
        spec: { memoryMiB: number; vcpus: number };
        snapshots: string[];
      }[];
      out(g(), list, () =>
        formatTable(
          ['id', 'state', 'vcpus', 'memory MiB', 'snapshots'],
          list.map((x) => [x.id, x.state, x.spec.vcpus, x.spec.memoryMiB, x.snapshots.join(' ')]),
        ),
      );
    });
  guest
    .command('show <id>')
    .description('Show a guest and its metrics')
    .action(async (id: string) => {
      const info = (await call(g(), 'GET', `/v1/guests/${encodeURIComponent(id)}`)) as Record<
        string,
        unknown
      >;
      const metrics =
        info.state === 'running'
          ? await call(g(), 'GET', `/v1/guests/${encodeURIComponent(id)}/metrics`)
          : undefined;
      out(g(), { ...info, metrics }, () => JSON.stringify({ ...info, metrics }, null, 2));
    });
  guest
    .command('create <id>')
    .description('Define a guest')
    .requiredOption('--memory <MiB>', 'memory, MiB')
    .option('--vcpus <n>', 'vCPUs', '1')
    .option('--kernel <file>')
    .option('--initrd <file>')
    .option('--disk <qcow2>')
    .option('--workload-mib <MiB>', 'tiny guest: memory to dirty')
    .option('--workload-rate <MiBps>', 'tiny guest: dirty rate (-1: max)')
    .action(async (id: string, o: Record<string, string | undefined>) => {
      const spec = {
        id,
        memoryMiB: num('memory', o.memory),
        vcpus: num('vcpus', o.vcpus),
        image: { kernel: o.kernel, initrd: o.initrd, disk: o.disk },
        ...(o.workloadMib
          ? {
              workload: {
                mib: num('workload-mib', o.workloadMib)!,
                rateMiBps: num('workload-rate', o.workloadRate ?? '0')!,
              },
            }
          : {}),
      };
      out(g(), await call(g(), 'POST', '/v1/guests', spec), () => `created ${id}`);
    });
  for (const action of ['start', 'stop', 'pause', 'resume', 'reboot'] as const) {
    guest
      .command(`${action} <id>`)
      .description(`${action[0]!.toUpperCase()}${action.slice(1)} a guest`)
      .action(async (id: string) => {
        const r = (await call(g(), 'POST', `/v1/guests/${encodeURIComponent(id)}/${action}`, {})) as {
          state: string;
        };
        out(g(), r, () => `${id}: ${r.state}`);
      });
  }
  guest
    .command('delete <id>')
    .description('Delete a guest')
    .action(async (id: string) => {
      await call(g(), 'DELETE', `/v1/guests/${encodeURIComponent(id)}`);
      out(g(), { deleted: id }, () => `deleted ${id}`);
    });
  guest
    .command('migrate <id>')
    .description('Live-migrate a guest to another agent')
    .requiredOption('--to <url>', 'destination agent URL')
    .option('--to-token-env <name>', 'environment variable holding the destination agent token')
    .option('--mode <mode>', 'stop-and-copy, precopy or postcopy', 'precopy')
    .option('--max-downtime-ms <ms>')
    .option('--bandwidth-mbps <Mbit/s>')
    .option('--stop-after-rounds <n>')
    .option('--postcopy-after-ms <ms>')
    .option('--auto-converge')
    .option('--xbzrle-cache-mib <MiB>')
    .option('--multifd <channels:compression>', 'e.g. 2:zstd')
    .option(
      '--downtime-target-ms <ms>',
      'plan it: let the models choose settings that meet this downtime (needs --bandwidth-mbps)',
    )
    .option('--no-postcopy', 'when planning: do not use post-copy')
    .action(async (id: string, o: Record<string, string | boolean | undefined>) => {
      const s = (k: string) => o[k] as string | undefined;
      // The destination's token comes from the environment too: NUBIS_AGENT_TOKEN by default (the
      // same token on both agents), or the variable --to-token-env names. It stays here: the
      // destination issues a one-time ticket for this guest, and the source agent gets only that.
      const toToken = process.env[s('toTokenEnv') ?? 'NUBIS_AGENT_TOKEN'];
      let body: Record<string, unknown>;
      if (o.downtimeTargetMs !== undefined) {
        if (o.bandwidthMbps === undefined)
          throw new RangeError(
            '--downtime-target-ms needs --bandwidth-mbps (the link the migration may use)',
          );
        body = {
          destination: s('to'),
          plan: {
            downtimeTargetMs: num('downtime-target-ms', s('downtimeTargetMs')),
            bandwidthMbps: num('bandwidth-mbps', s('bandwidthMbps')),
            allowPostcopy: o.postcopy !== false,
          },
        };
      } else {
        const mf = s('multifd')?.split(':');
        body = {
          destination: s('to'),
          options: {
            mode: s('mode'),
            maxDowntimeMs: num('max-downtime-ms', s('maxDowntimeMs')),
            bandwidthMbps: num('bandwidth-mbps', s('bandwidthMbps')),
            stopAfterRounds: num('stop-after-rounds', s('stopAfterRounds')),
            postcopyAfterMs: num('postcopy-after-ms', s('postcopyAfterMs')),
            autoConverge: o.autoConverge ? true : undefined,
            xbzrleCacheMiB: num('xbzrle-cache-mib', s('xbzrleCacheMib')),
            multifd: mf ? { channels: num('multifd', mf[0]), compression: mf[1] ?? 'none' } : undefined,
          },
        };
      }
      const { ticket } = (await call({ agent: s('to')!, token: toToken }, 'POST', '/v1/incoming-tickets', {
        guestId: id,
      })) as { ticket: string };
      body.destinationTicket = ticket;
      const r = (await call(g(), 'POST', `/v1/guests/${encodeURIComponent(id)}/migrate`, body)) as Record<
        string,
        number | string
      >;
      out(
        g(),
        r,
        () =>
          `${id}: ${r.status} (${r.modeUsed}) in ${Math.round(Number(r.totalMs))} ms, downtime ${Math.round(Number(r.downtimeMs))} ms, ${(Number(r.bytes) / 2 ** 20).toFixed(0)} MiB, ${r.rounds} rounds`,
      );
    });
}
