/**
 * A throw-away OpenStack test cloud: `nubis serve` on simulated hosts (a fresh SQLite database in a
 * temporary folder, a free port, the bootstrap admin's token and password), the contract's bootstrap
 * (section 2: tenant `demo`, user `demo`/`secret` with role `member`; a shared storage pool, where Cinder's
 * volumes go), and a `clouds.yaml` with two clouds,
 * `nubis-admin` and `nubis-demo`, for the real `openstack` client (OS_CLOUD) and for Tempest.
 * Used by test/openstack-cli.test.ts, test/openstack-tempest.test.ts and `npm run check:tempest`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const here = new URL('.', import.meta.url).pathname;

/** The real OpenStack client (Debian's python3-openstackclient). */
export const OPENSTACK_BIN = '/usr/bin/openstack';

/** Options of {@link startTestCloud}; all optional. */
export interface TestCloudOptions {
  /** Simulated hypervisors (default 3: live migration needs a second host to go to). */
  demoHosts?: number;
  /** The admin's Keystone password (default `nubis-admin-pw`). */
  adminPassword?: string;
}

/** A running test cloud; `stop()` kills the server and removes its folder. */
export interface TestCloud {
  /** nubis's base URL, `http://127.0.0.1:PORT`. */
  url: string;
  /** Keystone's URL for the clients, `URL/openstack/identity/v3`. */
  authUrl: string;
  /** The bootstrap admin's nubis token (also the admin's Keystone token: they are the same tokens). */
  adminToken: string;
  adminPassword: string;
  /** The temporary folder (database, clouds.yaml, Tempest's workspace). */
  dir: string;
  /** Path of the written clouds.yaml (clouds `nubis-admin` and `nubis-demo`). */
  cloudsYaml: string;
  /** Environment for `openstack` and for `node bin/nubis.js` against this cloud (OS_CLOUD not set). */
  env: NodeJS.ProcessEnv;
  /** What the server printed so far (for failure messages). */
  log: () => string;
  /** Stop the server and remove the folder (`keepDir`: leave it, e.g. to read Tempest's logs). */
  stop: (keepDir?: boolean) => Promise<void>;
}

/** Render a template: every `@NAME@` replaced by `vars[NAME]` (an unknown name is an error). */
export function renderTemplate(text: string, vars: Record<string, string | number>): string {
  return text.replace(/@([A-Z0-9_]+)@/g, (_, k: string) => {
    if (!(k in vars)) throw new RangeError(`template variable @${k}@ has no value`);
    return String(vars[k]);
  });
}

/** Run `node bin/nubis.js ARGS` against the cloud as its admin; throws with the output when it fails. */
export function nubisCli(cloud: Pick<TestCloud, 'env'>, args: string[]): string {
  const r = spawnSync(process.execPath, [join(root, 'bin/nubis.js'), ...args], {
    cwd: root,
    env: cloud.env,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`nubis ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

function helpOf(args: string[]): string {
  const r = spawnSync(process.execPath, [join(root, 'bin/nubis.js'), ...args, '--help'], {
    cwd: root,
    encoding: 'utf8',
  });
  return r.stdout + r.stderr;
}

/**
 * Start a test cloud and bootstrap it (contract section 2). Resolves once the server listens and
 * the demo user exists.
 */
export async function startTestCloud(opts: TestCloudOptions = {}): Promise<TestCloud> {
  const dir = mkdtempSync(join(tmpdir(), 'nubis-os-'));
  const adminToken = 'nubis-admin-tok';
  const adminPassword = opts.adminPassword ?? 'nubis-admin-pw';
  const proc = spawn(
    process.execPath,
    [
      join(root, 'bin/nubis.js'),
      'serve',
      '--port',
      '0',
      '--data',
      join(dir, 'data'),
      '--demo-hosts',
      String(opts.demoHosts ?? 3),
      '--sim-load-interval-s',
      '0',
      '--rate-limit',
      '0',
    ],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      // The admin's token and Keystone password, by the environment (not visible to other local users).
      env: { ...process.env, NUBIS_BOOTSTRAP_TOKEN: adminToken, NUBIS_BOOTSTRAP_PASSWORD: adminPassword },
    },
  );
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /control plane on (http:\/\/[^ \s]+)/.exec(out);
      if (m) resolve(m[1]!.replace(/\/$/, ''));
    });
    proc.stderr!.on('data', (d) => (out += d));
    proc.once('exit', (c, sig) => reject(new Error(`nubis serve exited (${c ?? sig}): ${out}`)));
  });
  const authUrl = `${url}/openstack/identity/v3`;
  const cloudsYaml = join(dir, 'clouds.yaml');
  writeFileSync(
    cloudsYaml,
    renderTemplate(readFileSync(join(here, 'clouds.yaml.template'), 'utf8'), {
      AUTH_URL: authUrl,
      ADMIN_PASSWORD: adminPassword,
      DEMO_PASSWORD: 'secret',
    }),
  );
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NUBIS_URL: url,
    NUBIS_TOKEN: adminToken,
    OS_CLIENT_CONFIG_FILE: cloudsYaml,
    // No proxy between the clients and the local server.
    NO_PROXY: '127.0.0.1,localhost',
    no_proxy: '127.0.0.1,localhost',
  };
  delete env.OS_CLOUD;
  const cloud: TestCloud = {
    url,
    authUrl,
    adminToken,
    adminPassword,
    dir,
    cloudsYaml,
    env,
    log: () => out,
    stop: (keepDir = false) => stopServe(proc, keepDir ? undefined : dir),
  };
  try {
    nubisCli(cloud, ['tenant', 'create', 'demo']);
    const pw = /--password/.test(helpOf(['user', 'create'])) ? ['--password', 'secret'] : [];
    nubisCli(cloud, ['user', 'create', 'demo', ...pw, '--tenant', 'demo', '--role', 'member']);
    // A shared pool: Cinder's volumes land in it, so any server can attach them (a local pool's
    // volume attaches only to servers on its host; Tempest attaches to servers anywhere).
    nubisCli(cloud, ['storage-pool', 'create', 'shared', '--kind', 'shared']);
  } catch (e) {
    await cloud.stop();
    throw e;
  }
  return cloud;
}

async function stopServe(proc: ChildProcess, dir: string | undefined): Promise<void> {
  if (proc.exitCode === null && proc.signalCode === null) {
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await gone;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/**
 * Run the real `openstack` client with `-f json` against cloud `OS_CLOUD` (default the admin) and parse its
 * answer; throws with stderr when the command fails. Commands without output (delete, stop...) give null.
 */
export function openstackJson(
  cloud: Pick<TestCloud, 'env'>,
  args: string[],
  osCloud = 'nubis-admin',
): ReturnType<typeof JSON.parse> {
  const text = openstack(cloud, args, osCloud);
  return text.trim() === '' ? null : JSON.parse(text);
}

/** Run the real `openstack ARGS` (no `-f` added); its stdout, or an Error naming the command and stderr. */
export function openstack(cloud: Pick<TestCloud, 'env'>, args: string[], osCloud = 'nubis-admin'): string {
  const r = spawnSync(OPENSTACK_BIN, args, {
    env: { ...cloud.env, OS_CLOUD: osCloud },
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (r.status !== 0)
    throw new Error(`openstack ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}
