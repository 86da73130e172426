/**
 * The VM page's serial console in a real headless Chromium against `nubis serve` with simulated
 * hosts: the owner sees the log in the terminal, connects, types a line and sees the guest's shell
 * answer; a member of another tenant gets 404 for the log and for a console ticket, and the page
 * of that VM shows no console. Screenshots go to test-results/dashboard/.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { dashboardSkip as skip, screenshot, dashboardE2e } from './helpers/dashboard-e2e.ts';

const TOKEN = 'dash-console-admin';
const dash = dashboardE2e({ name: 'console', adminToken: TOKEN, demoHosts: 2 });
const { api, member } = dash;

before(async () => {
  if (!skip) await dash.start();
});
after(() => dash.stop());

test(
  "the VM page shows the serial console: its owner reads the log, connects and types; another tenant's member gets 404",
  { skip },
  async () => {
    const ann = await member('acme', 'ann');
    const bob = await member('globex', 'bob');
    const created = await api(ann, 'POST', '/v1/vms', { name: 'con-web', flavor: 'm1.small', image: 'tiny' });
    assert.equal(created.status, 202);
    const vmId = created.body.vmId as string;

    const ctx = await dash.browser.newContext({ viewport: { width: 1360, height: 1000 } });
    const p = await ctx.newPage();
    p.setDefaultTimeout(15_000);
    try {
      await p.goto(dash.url + '/');
      await p.fill('input[name=token]', ann);
      await p.click('button[type=submit]');
      await p.locator('.vm-row').first().waitFor();
      await p.goto(dash.url + `/#/vms/${vmId}`);
      const term = p.getByTestId('serial-console').locator('.xterm-rows');
      await term.getByText('nubis-ready').waitFor();
      await screenshot(p, '20-console-log');

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
      await screenshot(p, '21-console-interactive');
      await p.getByTestId('console-disconnect').click();
      await p.getByTestId('console-status').filter({ hasText: 'log' }).waitFor();
    } finally {
      await ctx.close();
    }

    // Another tenant's member: 404 on the log and on a ticket, and the VM page shows nothing of it.
    assert.equal((await api(bob, 'GET', `/v1/vms/${vmId}/console`)).status, 404);
    assert.equal((await api(bob, 'POST', `/v1/vms/${vmId}/console/tickets`)).status, 404);
    const ctx2 = await dash.browser.newContext({ viewport: { width: 1360, height: 900 } });
    const q = await ctx2.newPage();
    q.setDefaultTimeout(15_000);
    try {
      await q.goto(dash.url + '/');
      await q.fill('input[name=token]', bob);
      await q.click('button[type=submit]');
      await q.locator('header nav a').first().waitFor();
      await q.goto(dash.url + `/#/vms/${vmId}`);
      await q.locator('.error').first().waitFor();
      assert.equal(await q.getByTestId('serial-console').count(), 0);
      assert.doesNotMatch(await q.locator('body').innerText(), /nubis-ready/);
    } finally {
      await ctx2.close();
    }
  },
);
