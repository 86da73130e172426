/**
 * The CLI's credentials: the control plane's URL and an API token, from the environment
 * (`NUBIS_URL`, `NUBIS_TOKEN`) or a credentials file (`$NUBIS_CREDENTIALS`, default
 * `~/.config/nubis/credentials`) that only its owner may read (mode 0600, as ssh insists for its
 * keys). Tokens never travel on the command line, where `ps` and shell histories show them.
 *
 * The file is JSON (`{"url": "...", "token": "..."}`) or INI-like lines (`url = ...`, `token = ...`,
 * `#` comments, an optional `[default]` section header), as `nubis login` writes it.
 */
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  writeSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CliError } from './commands/common.ts';

/** What a credentials file holds (either may be missing). */
export interface Credentials {
  url?: string;
  token?: string;
}

/** The credentials file's path: `$NUBIS_CREDENTIALS`, else `~/.config/nubis/credentials` (XDG_CONFIG_HOME honoured). */
export function credentialsPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.NUBIS_CREDENTIALS) return env.NUBIS_CREDENTIALS;
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'nubis', 'credentials');
}

/** Parses a credentials file's text (JSON or INI). @throws CliError BAD_CREDENTIALS naming the file and the format. */
export function parseCredentials(text: string, path: string): Credentials {
  const bad = (why: string) =>
    new CliError(
      'BAD_CREDENTIALS',
      `${path}: ${why}; accepted: JSON {"url": "...", "token": "..."} or lines "url = ..." and "token = ..."`,
    );
  const t = text.trim();
  if (t.startsWith('{')) {
    let o: unknown;
    try {
      o = JSON.parse(t);
    } catch {
      throw bad('not valid JSON');
    }
    const r = o as Record<string, unknown>;
    for (const k of ['url', 'token'])
      if (r[k] !== undefined && typeof r[k] !== 'string') throw bad(`"${k}" must be a string`);
    return { url: r.url as string | undefined, token: r.token as string | undefined };
  }
  const out: Credentials = {};
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';') || /^\[[^\]]*\]$/.test(line)) continue;
    const m = /^(url|token)\s*[=:]\s*(.*)$/i.exec(line);
    if (!m) throw bad(`line ${i + 1} is not "url = ..." or "token = ..."`);
    const v = m[2]!.replace(/^(["'])(.*)\1$/, '$2');
    out[m[1]!.toLowerCase() as 'url' | 'token'] = v;
  }
  return out;
}

/**
 * The credentials file's contents, or `{}` when there is none.
 * @throws CliError INSECURE_CREDENTIALS when group or others may read or write it (the token is
 *   not read; the message says `chmod 600`), BAD_CREDENTIALS when it cannot be parsed
 */
export function readCredentials(path: string = credentialsPath()): Credentials {
  if (!existsSync(path)) return {};
  const st = statSync(path);
  if ((st.mode & 0o077) !== 0)
    throw new CliError(
      'INSECURE_CREDENTIALS',
      `${path} is readable by other users (mode ${(st.mode & 0o777).toString(8)}); ` +
        `run "chmod 600 ${path}" so only you can read it (the token was not used)`,
    );
  return parseCredentials(readFileSync(path, 'utf8'), path);
}

/**
 * Writes a file only its owner may read or write (0600; its folder 0700 when created), replacing
 * any content and tightening the mode of an existing file.
 */
export function writePrivateFile(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const fd = openSync(path, 'w', 0o600);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  chmodSync(path, 0o600);
}

/** Writes a credentials file (INI, mode 0600) with the URL and token. */
export function writeCredentials(path: string, c: Required<Credentials>): void {
  writePrivateFile(
    path,
    `# nubis credentials (written by "nubis login"); keep mode 0600\nurl = ${c.url}\ntoken = ${c.token}\n`,
  );
}
