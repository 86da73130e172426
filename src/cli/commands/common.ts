/**
 * What every resource command shares: the connection (`--url`/NUBIS_URL, the token from NUBIS_TOKEN or
 * the credentials file, never from argv: see ../credentials.ts), `--json`, the client, output (raw JSON with --json, otherwise a table or a summary), option parsers,
 * and name-or-id resolution. Each `commands/<resource>.ts` registers one resource's commands.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { NubisClient, type Operation } from '../../client/index.ts';
import { credentialsPath, readCredentials } from '../credentials.ts';

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

/** Adds --url and --json to a command (and a hidden --token that only says where tokens go now). */
export function withConnection(cmd: Command): Command {
  return cmd
    .option(
      '--url <url>',
      'control plane URL (or NUBIS_URL, or the credentials file; default http://127.0.0.1:8080)',
    )
    .addOption(new Option('--token <token>', 'removed: tokens are not read from the command line').hideHelp())
    .option('--json', 'print the raw JSON answer (for scripts)');
}

/** Why --token is refused, and what to do instead. */
export const TOKEN_ON_ARGV =
  '--token was removed: a token on the command line is visible to every user (ps) and kept in shell ' +
  'histories. Set NUBIS_TOKEN, or run "nubis login --url URL" once to store it in a 0600 credentials file';

/**
 * The URL and token to use: --url, NUBIS_URL, then the credentials file for the URL; NUBIS_TOKEN,
 * then the credentials file for the token (the file is read only when something is missing).
 * @throws CliError TOKEN_ON_ARGV when --token is given, INSECURE_CREDENTIALS for a file others can read
 */
export function connection(
  o: { url?: string; token?: string },
  env: NodeJS.ProcessEnv = process.env,
): { url: string; token?: string } {
  if (o.token !== undefined) throw new CliError('TOKEN_ON_ARGV', TOKEN_ON_ARGV);
  const url = o.url ?? env.NUBIS_URL;
  const token = env.NUBIS_TOKEN;
  const path = credentialsPath(env);
  const file = url === undefined || token === undefined ? readCredentials(path) : {};
  const effective = url ?? file.url ?? 'http://127.0.0.1:8080';
  // The file's token goes only to the server it was stored for (as .netrc matches the host), so a
  // mistyped or hostile --url does not receive it.
  if (token === undefined && file.token !== undefined && file.url && origin(file.url) !== origin(effective))
    throw new CliError(
      'CREDENTIALS_URL_MISMATCH',
      `the token in ${path} is for ${file.url}, not ${effective}; run "nubis login --url ${effective}" or set NUBIS_TOKEN`,
    );
  return { url: effective, token: token ?? file.token };
}

/** A URL's origin (scheme, host, port) for comparisons; the text itself when it is not a URL. */
const origin = (u: string): string => {
  try {
    return new URL(u).origin;
  } catch {
    return u;
  }
};

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
  const c = connection(o);
  return {
    client: new NubisClient({ baseUrl: c.url, token: c.token }),
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

/**
 * A VM's id from its id or name (VMs are named per tenant: admins may see several with one name).
 * Only the VMs whose name starts with `ref` are fetched (not every page of every VM); an id matches
 * none of them and is passed on as given. When some VM is named `ref`, the VM whose id is `ref` (if
 * any) is fetched too, so that an id wins over a name, as everywhere else.
 */
export const vmId = (c: Ctx, ref: string): Promise<string> =>
  resolveId(
    'VM',
    ref,
    async () => {
      const named = await c.client.vms.list({ name: ref });
      if (!named.some((v) => v.name === ref) || named.some((v) => v.id === ref)) return named;
      // The API's GET answers the VM with that id first, else one named so (or an error: no such id).
      const byId = await c.client.vms.get(ref).catch(() => undefined);
      return byId?.id === ref ? [byId, ...named] : named;
    },
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

/** An operation (or plan) that ended `failed`: the command printed it, and exits 1 with its error. */
export class OperationFailedError extends Error {}

/** Statuses an operation leaves (anything else is final). */
const UNFINISHED = new Set(['pending', 'running']);

/**
 * Every command that starts an operation ends here: waits while the operation is unfinished (an
 * idempotent replay can answer with one still running; polls every `pollMs`, at most `timeoutMs`),
 * prints it (the JSON with --json, else `human(op)`), and throws OperationFailedError when it failed,
 * so the command exits non-zero with the operation's error.
 * @throws OperationFailedError when the operation ended `failed`
 */
export async function finishOperation(
  c: Ctx,
  label: string,
  first: Operation,
  human: (op: Operation) => string | Promise<string> = (op) => opLine(label, op),
  o: { pollMs?: number; timeoutMs?: number } = {},
): Promise<Operation> {
  const pollMs = o.pollMs ?? 500;
  let op = first;
  for (let waited = 0; UNFINISHED.has(op.status) && waited < (o.timeoutMs ?? 600_000); waited += pollMs) {
    await new Promise((r) => setTimeout(r, pollMs));
    op = await c.client.operations.get(op.id);
  }
  const text = c.json ? '' : await human(op);
  c.out(op, () => text);
  if (op.status === 'failed')
    throw new OperationFailedError(
      `${op.kind || 'operation'} of ${label} failed: ${op.error ?? 'no reason given'} (operation ${op.id})`,
    );
  return op;
}

/** Capitalized first letter. */
export const cap = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
