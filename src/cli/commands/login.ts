/** `nubis login`: store the control plane's URL and a token in the 0600 credentials file. */
import type { Command } from 'commander';
import { createInterface } from 'node:readline';
import { NubisClient } from '../../client/index.ts';
import { credentialsPath, writeCredentials } from '../credentials.ts';
import { CliError, type CommandModule } from './common.ts';

/** The token from stdin: its first line when piped, else typed at a prompt that does not echo it. */
async function readToken(): Promise<string> {
  if (!process.stdin.isTTY) {
    let text = '';
    for await (const chunk of process.stdin) text += chunk;
    return text.split(/\r?\n/)[0]!.trim();
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  process.stderr.write('API token (not shown): ');
  // Nothing typed is echoed: readline writes through _writeToOutput, muted while the token is read.
  (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => undefined;
  const line = await new Promise<string>((resolve) => rl.once('line', resolve));
  rl.close();
  process.stderr.write('\n');
  return line.trim();
}

/** login. */
export const loginCommands: CommandModule = (program) => {
  program
    .command('login')
    .description(
      'Store the URL and an API token (read from stdin or typed at a prompt) in the credentials file (mode 0600)',
    )
    .requiredOption('--url <url>', 'control plane URL, e.g. http://127.0.0.1:8080')
    .action(async function (this: Command, o: { url: string }) {
      const token = await readToken();
      if (!token) throw new CliError('NO_TOKEN', 'no token on stdin; pipe it in or type it at the prompt');
      // Checked before it is stored: a typo is caught now, not at the next command.
      const me = await new NubisClient({ baseUrl: o.url, token }).meta.me();
      const path = credentialsPath();
      writeCredentials(path, { url: o.url, token });
      process.stdout.write(
        `logged in to ${o.url} as ${me.userName} (${me.role}); credentials in ${path} (mode 0600)\n`,
      );
    });
};
