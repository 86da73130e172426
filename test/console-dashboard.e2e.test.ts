/**
 * The VM page's serial console in a real headless Chromium against `nubis serve` with simulated
 * hosts: the owner sees the log in the terminal, connects, types a line and sees the guest's shell
 * answer; a member of another tenant gets 404 for the log and for a console ticket, and the page
 * of that VM shows no console. Screenshots go to test-results/dashboard/.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';

const root = new URL('..', import.meta.url).pathname;
const CHROMIUM = process.env.NUBIS_CHROMIUM ?? '/usr/bin/chromium';
const shots = join(root, 'test-results', 'dashboard');
const missing = !existsSync(CHROMIUM)
  ? `no Chromium at ${CHROMIUM} (apt-get install chromium)`
  : !existsSync(join(root, 'web/dist/index.html'))
    ? 'the dashboard is not built (npm run build:web)'
    : undefined;
if (missing && process.env.NUBIS_REQUIRE_CHROMIUM)
  throw new Error(`NUBIS_REQUIRE_CHROMIUM is set but ${missing}`);
const skip = missing;

let server: ChildProcess | undefined;
let url = '';
let browser: Browser | undefined;
const data = mkdtempSync(join(tmpdir(), 'nubis-dash-console-'));
const TOKEN = 'dash-console-admin';

async function api(token: string, method: string, path: string, body?: unknown) {
  const r = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : undefined };
}

before(async () => {
  if (skip) return;
  server = spawn(
    process.execPath,
    [join(root, 'bin/nubis.js'), 'serve', '--port', '0', '--data', data, '--demo-hosts', '2'],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NUBIS_BOOTSTRAP_TOKEN: TOKEN } },
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
      '--no-first-run',
    ],
  });
});

after(async () => {
  await browser?.close();
  server?.kill('SIGKILL');
  rmSync(data, { recursive: true, force: true });
});

/** A member of a new tenant and their token. */
async function member(tenant: string, name: string): Promise<string> {
  assert.equal((await api(TOKEN, 'POST', '/v1/tenants', { name: tenant })).status, 201);
  const u = (await api(TOKEN, 'POST', '/v1/users', { tenant, name, role: 'member' })).body;
  return (await api(TOKEN, 'POST', '/v1/tokens', { name, userId: u.id })).body.token as string;
}

test(
  "the VM page shows the serial console: its owner reads the log, connects and types; another tenant's member gets 404",
  { skip },
  async () => {
    const ann = await member('acme', 'ann');
    const bob = await member('globex', 'bob');
    const created = await api(ann, 'POST', '/v1/vms', { name: 'con-web', flavor: 'm1.small', image: 'tiny' });
    assert.equal(created.status, 202);
    const vmId = created.body.vmId as string;

    const ctx = await browser!.newContext({ viewport: { width: 1360, height: 1000 } });
    const p = await ctx.newPage();
    p.setDefaultTimeout(15_000);
    try {
      await p.goto(url + '/');
      await p.fill('input[name=token]', ann);
      await p.click('button[type=submit]');
      await p.locator('.vm-row').first().waitFor();
      await p.goto(url + `/#/vms/${vmId}`);
      const term = p.getByTestId('serial-console').locator('.xterm-rows');
      await term.getByText('nubis-ready').waitFor();
      mkdirSync(shots, { recursive: true });
      await p.screenshot({ path: join(shots, '20-console-log.png'), fullPage: true });

      await p.getByTestId('console-connect').click();
      await p.getByTestId('console-status').filter({ hasText: 'connected' }).waitFor();
      const word = `hello-${Math.floor(Math.random() * 1e6)}`;
      await p.locator('.xterm-helper-textarea').focus();
      await p.keyboard.type(`echo ${word}`);
      await p.keyboard.press('Enter');
      // The shell's answer on a line of its own (the typed line reads "echo hello-N").
      await p.waitForFunction(
        (w) =>
          Array.from(document.querySelectorAll('[data-testid=serial-console] .xterm-rows > div')).some(
            (row) => row.textContent?.trim() === w,
          ),
        word,
      );
      await p.screenshot({ path: join(shots, '21-console-interactive.png'), fullPage: true });
      await p.getByTestId('console-disconnect').click();
      await p.getByTestId('console-status').filter({ hasText: 'log' }).waitFor();
    } finally {
      await ctx.close();
    }

    // Another tenant's member: 404 on the log and on a ticket, and the VM page shows nothing of it.
    assert.equal((await api(bob, 'GET', `/v1/vms/${vmId}/console`)).status, 404);
    assert.equal((await api(bob, 'POST', `/v1/vms/${vmId}/console/tickets`)).status, 404);
    const ctx2 = await browser!.newContext({ viewport: { width: 1360, height: 900 } });
    const q = await ctx2.newPage();
    q.setDefaultTimeout(15_000);
    try {
      await q.goto(url + '/');
      await q.fill('input[name=token]', bob);
      await q.click('button[type=submit]');
      await q.locator('header nav a').first().waitFor();
      await q.goto(url + `/#/vms/${vmId}`);
      await q.locator('.error').first().waitFor();
      assert.equal(await q.getByTestId('serial-console').count(), 0);
      assert.doesNotMatch(await q.locator('body').innerText(), /nubis-ready/);
    } finally {
      await ctx2.close();
    }
  },
);
