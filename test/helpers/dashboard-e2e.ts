/**
 * The set-up the dashboard's end-to-end tests share: `nubis serve` with simulated hosts and a real
 * headless Chromium (Debian's, driven by playwright-core), started before a file's tests and stopped
 * after them; an API client, a tenant's member, and screenshots in test-results/dashboard/.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

const root = new URL('../..', import.meta.url).pathname;
const CHROMIUM = process.env.NUBIS_CHROMIUM ?? '/usr/bin/chromium';
/** Where the dashboard tests save their screenshots. */
export const SHOTS_DIR = join(root, 'test-results', 'dashboard');

const missing = !existsSync(CHROMIUM)
  ? `no Chromium at ${CHROMIUM} (apt-get install chromium)`
  : !existsSync(join(root, 'web/dist/index.html'))
    ? 'the dashboard is not built (npm run build:web)'
    : undefined;
if (missing && process.env.NUBIS_REQUIRE_CHROMIUM)
  throw new Error(`NUBIS_REQUIRE_CHROMIUM is set but ${missing}`);
/** Why the dashboard tests cannot run on this machine (the test's `skip`), or undefined. */
export const dashboardSkip: string | undefined = missing;

/** Saves a full-page screenshot of PAGE as test-results/dashboard/NAME.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS_DIR, { recursive: true });
  await page.screenshot({ path: join(SHOTS_DIR, `${name}.png`), fullPage: true });
}

/** An API answer: its status and parsed JSON body (undefined when empty). */
export interface ApiAnswer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read fields of any answer
  body: any;
}

/** The running control plane and browser of a dashboard test file. */
export interface DashboardE2e {
  /** The control plane's base URL (set once the set-up ran). */
  readonly url: string;
  /** The headless Chromium. */
  readonly browser: Browser;
  /** The control plane's data folder (removed after the tests). */
  readonly data: string;
  /** Calls the REST API with TOKEN. */
  api(token: string, method: string, path: string, body?: unknown): Promise<ApiAnswer>;
  /** Starts `nubis serve` and Chromium (call it in the file's `before`, unless {@link dashboardSkip}). */
  start(): Promise<void>;
  /** Stops them and removes the data folder (call it in the file's `after`). */
  stop(): Promise<void>;
  /** Creates the tenant TENANT and a member NAME in it (as the admin); resolves with their token. */
  member(tenant: string, name: string): Promise<string>;
}

/** Options of {@link dashboardE2e}. */
export interface DashboardE2eOptions {
  /** Names the data folder (nubis-dash-NAME-…). */
  name: string;
  /** The bootstrap admin token. */
  adminToken: string;
  /** How many simulated hosts `nubis serve --demo-hosts` starts. */
  demoHosts: number;
}

/** The control plane on simulated hosts and the browser of a dashboard test file, to start and stop. */
export function dashboardE2e(opts: DashboardE2eOptions): DashboardE2e {
  const data = mkdtempSync(join(tmpdir(), `nubis-dash-${opts.name}-`));
  let server: ChildProcess | undefined;
  let browser: Browser | undefined;
  let url = '';

  const api = async (token: string, method: string, path: string, body?: unknown): Promise<ApiAnswer> => {
    const r = await fetch(url + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : undefined };
  };

  const start = async () => {
    server = spawn(
      process.execPath,
      [
        join(root, 'bin/nubis.js'),
        'serve',
        '--port',
        '0',
        '--data',
        data,
        '--demo-hosts',
        String(opts.demoHosts),
      ],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, NUBIS_BOOTSTRAP_TOKEN: opts.adminToken },
      },
    );
    url = await new Promise<string>((resolve, reject) => {
      let out = '';
      server!.stdout!.on('data', (d) => {
        out += d;
        const m = /control plane on (http:\/\/[^ ]+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      server!.stderr!.on('data', (d) => {
        out += d;
      });
      server!.on('exit', (c) => reject(new Error(`serve exited ${c}: ${out}`)));
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
      ],
    });
  };

  const stop = async () => {
    await browser?.close();
    server?.kill('SIGKILL');
    rmSync(data, { recursive: true, force: true });
  };

  return {
    get url() {
      return url;
    },
    get browser() {
      assert.ok(browser, 'the dashboard e2e set-up has not started Chromium');
      return browser;
    },
    data,
    api,
    start,
    stop,
    async member(tenant, name) {
      assert.equal((await api(opts.adminToken, 'POST', '/v1/tenants', { name: tenant })).status, 201);
      const u = (await api(opts.adminToken, 'POST', '/v1/users', { tenant, name, role: 'member' })).body;
      return (await api(opts.adminToken, 'POST', '/v1/tokens', { name, userId: u.id })).body.token as string;
    },
  };
}
