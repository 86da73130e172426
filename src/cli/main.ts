/**
 * `nubis` command line: the composition root that reads arguments, files and the environment.
 */
import { Command, CommanderError } from 'commander';
import { ApiError } from '../client/index.ts';
import { CliError, OperationFailedError } from './commands/common.ts';

type Register = (program: Command) => void;

/**
 * Each command group's module, loaded only when needed: `nubis sim …` evaluates the simulator alone,
 * not fastify, the stores or the agent (bin/nubis.js bundles each import below as its own chunk).
 * The command's definitions and its implementation stay together in one module; only help and the
 * control plane's client commands (the fallback) load every group.
 */
const GROUPS: Record<string, () => Promise<Register>> = {
  sim: async () => (await import('./sim-command.ts')).simCommand,
  agent: async () => (await import('./agent-command.ts')).agentCommand,
  guest: async () => (await import('./guest-command.ts')).guestCommand,
  serve: async () => (await import('./serve-command.ts')).serveCommand,
};
const cloud = async (): Promise<Register> => (await import('./commands/index.ts')).cloudCommands;

/** The groups to register for `argv`: the one named first, or (help, client commands, typos) all. */
function groupsFor(argv: string[]): (() => Promise<Register>)[] {
  const first = argv[2];
  if (first !== undefined && Object.hasOwn(GROUPS, first)) return [GROUPS[first]!];
  return [...Object.values(GROUPS), cloud];
}

/** Errors with a stable `code` are the user's input problems: one line, exit 2. */
function isUserError(e: unknown): e is Error & { code: string } {
  const code = (e as { code?: unknown } | null)?.code;
  return e instanceof Error && typeof code === 'string' && /^[A-Z_]+$/.test(code);
}

/** An API error as one line: the code, the message, and (placement) the first hosts' reasons. */
export function apiErrorLine(e: ApiError): string {
  if (e.code === 'UNREACHABLE') return `${e.message} (is "nubis serve" running? set --url or NUBIS_URL)`;
  const rejected = Array.isArray(e.details.rejected)
    ? (e.details.rejected as { hostName: string; filter: string; reason: string }[])
    : [];
  const shown = rejected.slice(0, 4).map((r) => `${r.hostName}: ${r.filter}: ${r.reason}`);
  const more =
    rejected.length > shown.length ? `; and ${rejected.length - shown.length} more (--json for all)` : '';
  return `${e.code}: ${e.message}${shown.length ? ` (${shown.join('; ')}${more})` : ''}`.replace(
    /\s*\n\s*/g,
    ' ',
  );
}

/** Run the CLI; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = new Command();
  program
    .name('nubis')
    .description('Cloud data-center manager: simulate and run VM consolidation')
    .exitOverride();
  program.configureOutput({ writeErr: (s) => process.stderr.write(s) });
  for (const register of await Promise.all(groupsFor(argv).map((load) => load()))) register(program);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof ApiError) {
      process.stderr.write(`nubis: error: ${apiErrorLine(e)}\n`);
      return 2;
    }
    if (e instanceof OperationFailedError) {
      // The operation was printed; the exit status and this line say it failed, and why.
      process.stderr.write(`nubis: error: ${e.message}\n`);
      return 1;
    }
    if (e instanceof CliError) {
      process.stderr.write(`nubis: error: ${e.code}: ${e.message}\n`);
      return 2;
    }
    if (isUserError(e) || e instanceof RangeError) {
      process.stderr.write(`nubis: error: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
