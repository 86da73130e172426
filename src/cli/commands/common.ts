/**
 * What every resource command shares: the connection options (`--url`/NUBIS_URL, `--token`/NUBIS_TOKEN,
 * `--json`), the client, output (raw JSON with --json, otherwise a table or a summary), option parsers,
 * and name-or-id resolution. Each `commands/<resource>.ts` registers one resource's commands.
 */
import { Command, InvalidArgumentError } from 'commander';
import { NubisClient, type Operation } from '../../client/index.ts';

/** A command module: registers its resource's commands on the program. */
export type CommandModule = (program: Command) => void;

/** An error of the CLI's own (an ambiguous name, a malformed argument): one line, exit 2. */
export class CliError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A resource's command group, with the connection options every subcommand accepts. */
export function resourceCommand(program: Command, name: string, description: string): Command {
  return withConnection(program.command(name).description(description));
}

/** Adds --url, --token and --json to a command. */
export function withConnection(cmd: Command): Command {
  return cmd
    .option('--url <url>', 'control plane URL (or NUBIS_URL; default http://127.0.0.1:8080)')
    .option('--token <token>', 'API token (or NUBIS_TOKEN)')
    .option('--json', 'print the raw JSON answer (for scripts)');
}

/** What an action needs: the client and how to print. */
export interface Ctx {
  client: NubisClient;
  json: boolean;
  /** Prints `data` as JSON with --json, else what `human()` returns. */
  out(data: unknown, human: () => string): void;
}

/** The context of the running command (reads the options of the command and its parents, then the environment). */
export function ctx(cmd: Command): Ctx {
  const o = cmd.optsWithGlobals() as { url?: string; token?: string; json?: boolean };
  const json = !!o.json;
  return {
    client: new NubisClient({
      baseUrl: o.url ?? process.env.NUBIS_URL ?? 'http://127.0.0.1:8080',
      token: o.token ?? process.env.NUBIS_TOKEN,
    }),
    json,
    out: (data, human) =>
      process.stdout.write((json ? JSON.stringify(data ?? null, null, 2) : human()) + '\n'),
  };
}

// ---- option parsers (commander calls them with the raw string) ----

/** Parses a non-negative integer option. */
export const int = (v: string): number => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError('expected a whole number.');
  return Number(v);
};
/** Parses a number option. */
export const num = (v: string): number => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError('expected a number.');
  return n;
};
/** A number inside an argument (KEY=NUMBER). @throws CliError BAD_ARGUMENT */
export function numberOf(v: string, what: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n))
    throw new CliError('BAD_ARGUMENT', `${what}: expected a number, got "${v}"`);
  return n;
}
/** A date-time option: YYYY-MM-DD means that day at 00:00 UTC; other values go to the API as given. */
export const dateTime = (v: string): string => (/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v);
/** Collects a repeatable option. */
export const collect = (v: string, prev: string[] = []): string[] => [...prev, v];
/** Parses KEY=VALUE. */
export function pair(v: string, what: string): [string, string] {
  const i = v.indexOf('=');
  if (i <= 0 || i === v.length - 1)
    throw new CliError('BAD_ARGUMENT', `${what} must be KEY=VALUE, got "${v}"`);
  return [v.slice(0, i), v.slice(i + 1)];
}
/** Drops undefined values (so the API sees only what was given). */
export const defined = <T extends object>(o: T): Partial<T> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;

// ---- names or ids ----

/**
 * The id of the object `ref` names among those the caller can see: an exact id first, then an exact
 * name. Two or more objects with that name is an error listing them. With no match the ref is
 * returned as given, so the API answers (404 for another tenant's object, or a bad id).
 * @throws CliError AMBIGUOUS
 */
export async function resolveId<T extends { id: string; name: string }>(
  kind: string,
  ref: string,
  list: () => Promise<T[]>,
  describe: (x: T) => string = (x) => x.id,
): Promise<string> {
  const all = await list();
  if (all.some((x) => x.id === ref)) return ref;
  const named = all.filter((x) => x.name === ref);
  if (named.length === 1) return named[0]!.id;
  if (named.length > 1)
    throw new CliError(
      'AMBIGUOUS',
      `"${ref}" names ${named.length} ${kind}s: ${named.map((x) => `${x.name} (${describe(x)})`).join(', ')}; give the id`,
    );
  return ref;
}

/** A VM's id from its id or name (VMs are named per tenant: admins may see several with one name). */
export const vmId = (c: Ctx, ref: string): Promise<string> =>
  resolveId(
    'VM',
    ref,
    () => c.client.vms.list(),
    (v) => `id ${v.id}, tenant ${v.tenantId}`,
  );

/** A host's id from its id or name (the API takes either; filters such as `vm list --host` want the id). */
export const hostId = async (c: Ctx, ref: string): Promise<string> => (await c.client.hosts.get(ref)).id;

// ---- human output ----

/** An object as aligned `key value` lines (arrays joined, nested objects as JSON). */
export function keyValues(o: object): string {
  const entries = Object.entries(o).filter(([k]) => k !== 'cpuSeries');
  const w = Math.max(...entries.map(([k]) => k.length));
  return entries
    .map(([k, v]) => {
      const s = Array.isArray(v)
        ? v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(', ')
        : v !== null && typeof v === 'object'
          ? JSON.stringify(v)
          : String(v);
      return `${k.padEnd(w)}  ${s}`;
    })
    .join('\n');
}

/** One line for an operation: `LABEL: STATUS — error`. */
export const opLine = (label: string, op: Operation): string =>
  `${label}: ${op.kind ? `${op.kind} ` : ''}${op.status}${op.error ? ` — ${op.error}` : ''}`;

/** Capitalized first letter. */
export const cap = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
