/**
 * The dashboard in a real headless Chromium (Debian's, driven by playwright-core) against a real
 * `nubis serve` with simulated hosts: sign in, create a VM and see it run, see a host fail and its
 * HA VM restart, approve a plan and see its migrations, download an invoice. Every step saves a
 * screenshot in test-results/dashboard/.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { type Page } from 'playwright-core';
import { dashboardSkip as skip, screenshot, dashboardE2e } from './helpers/dashboard-e2e.ts';

const TOKEN = 'dash-admin-token';
const dash = dashboardE2e({ name: 'main', adminToken: TOKEN, demoHosts: 6 });
const api = (method: string, path: string, body?: unknown) => dash.api(TOKEN, method, path, body);
let page: Page;
const shot = (name: string) => screenshot(page, name);

before(async () => {
  if (skip) return;
  await dash.start();
  const ctx = await dash.browser.newContext({
    viewport: { width: 1360, height: 900 },
    acceptDownloads: true,
  });
  page = await ctx.newPage();
  page.setDefaultTimeout(15_000);
  await signIn();
});
after(() => dash.stop());

async function signIn() {
  await page.goto(dash.url + '/');
  await page.fill('input[name=token]', TOKEN);
  await page.click('button[type=submit]');
  await page.locator('.tile').first().waitFor();
}

test(
  'sign in with a token; a wrong token is refused; the overview shows every host as a tile with live totals',
  { skip },
  async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.fill('input[name=token]', 'wrong');
    await page.click('button[type=submit]');
    await page.getByRole('alert').waitFor();
    assert.match(await page.getByRole('alert').innerText(), /token/i);
    await shot('01-sign-in-refused');
    await signIn();
    assert.equal(await page.locator('.tile').count(), 6);
    await page.locator('[data-stat="hosts on"] .stat-value', { hasText: '6 / 6' }).waitFor();
    await shot('02-overview');
  },
);

test(
  'create a VM from the form: the preview says where it would go, then it runs there',
  { skip },
  async () => {
    await page.goto(dash.url + '/#/create');
    await page.fill('input[name=name]', 'web-1');
    await page.selectOption('select[name=flavor]', 'm1.medium');
    await page.check('input[name=ha]');
    await page.getByRole('button', { name: 'Where would it go?' }).click();
    const chosen = await page.getByTestId('chosen-host').innerText();
    assert.match(chosen, /^sim-\d{3}$/);
    await shot('03-create-preview');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.getByTestId('vm-state').filter({ hasText: 'running' }).waitFor();
    assert.equal(await page.getByTestId('vm-host').innerText(), chosen);
    await shot('04-vm-running');
    // Nothing fits: the preview gives the reason per host and filter.
    await page.goto(dash.url + '/#/create');
    await page.fill('input[name=name]', 'too-big');
    assert.equal(
      (await api('POST', '/v1/flavors', { name: 'x.huge', vcpus: 256, memoryMiB: 1024, diskGiB: 1 })).status,
      201,
    );
    await page.reload();
    await page.fill('input[name=name]', 'too-big');
    await page.selectOption('select[name=flavor]', 'x.huge');
    await page.getByRole('button', { name: 'Where would it go?' }).click();
    await page.getByTestId('placement-preview').getByText('Nothing fits').waitFor();
    assert.equal(await page.locator('[data-testid=placement-preview] tbody tr').count(), 6);
    await shot('05-create-nothing-fits');
  },
);

test(
  'a host fails: its tile turns red on the open page, without a reload, and the HA VM runs again elsewhere',
  { skip },
  async () => {
    const vm = (await api('GET', '/v1/vms')).body.find((v: { name: string }) => v.name === 'web-1');
    await page.goto(dash.url + '/');
    await page.locator(`.tile[data-host="${vm.hostName}"]`).waitFor();
    assert.notEqual(
      await page.locator(`.tile[data-host="${vm.hostName}"]`).getAttribute('data-state'),
      'failed',
    );
    await page.evaluate(() => {
      (window as unknown as { nubisMark: number }).nubisMark = 1;
    });
    assert.equal((await api('PATCH', `/v1/hosts/${vm.hostId}`, { state: 'failed' })).status, 200);
    await page.locator(`.tile[data-host="${vm.hostName}"][data-state="failed"]`).waitFor();
    assert.equal(
      await page.evaluate(() => (window as unknown as { nubisMark?: number }).nubisMark),
      1,
      'the same page updated itself (no reload)',
    );
    await shot('06-host-failed');
    await page.goto(dash.url + `/#/vms/${vm.id}`);
    await page.getByTestId('vm-state').filter({ hasText: 'running' }).waitFor();
    assert.notEqual(await page.getByTestId('vm-host').innerText(), vm.hostName);
    await page.getByText('vm.ha.restarted').first().waitFor();
    await shot('07-vm-restarted');
    await api('PATCH', `/v1/hosts/${vm.hostId}`, { state: 'up' });
  },
);

test(
  'approve a consolidation plan: its actions show why, cost and gain; the migrations complete and appear in the timeline',
  { skip },
  async () => {
    for (let i = 0; i < 4; i++)
      assert.equal(
        (
          await api('POST', '/v1/vms', {
            name: `spread-${i}`,
            flavor: 'm1.small',
            image: 'tiny',
            preset: 'spread',
          })
        ).status,
        202,
      );
    await page.goto(dash.url + '/#/plans');
    await page.getByRole('button', { name: 'Audit now' }).click();
    const plan = page.locator('.plan[data-status=proposed]');
    await plan.waitFor();
    assert.ok((await plan.locator('tr.action-migrate').count()) >= 1);
    assert.match(
      await plan.locator('tr.action-migrate td').nth(3).innerText(),
      /empty sim-\d+ .* to switch it off/,
    );
    await shot('08-plan-proposed');
    await plan.getByRole('button', { name: 'Approve and apply' }).click();
    await page.locator('.plan[data-status=proposed]').waitFor({ state: 'detached' });
    await page.locator('tr[data-status=applied]').first().waitFor();
    const migrationRows = page.locator('[data-testid=migrations] tbody tr:not(.empty)');
    await migrationRows.first().waitFor();
    assert.ok((await migrationRows.count()) >= 1);
    assert.match(await migrationRows.first().innerText(), /sim-\d+ → sim-\d+\s+\d+(\.\d)? s\*\s+\d+ ms/);
    await shot('09-plan-applied');
    const hosts = (await api('GET', '/v1/hosts')).body as { state: string }[];
    assert.ok(
      hosts.some((h) => h.state === 'off'),
      'a host was switched off',
    );
    await page.goto(dash.url + '/');
    await page.locator('.tile[data-state="off"]').first().waitFor();
    await shot('10-overview-after-plan');
  },
);

test('usage and billing: the invoice for a period downloads as CSV', { skip }, async () => {
  // nubis serve's first start created the default tariff, so the usage is priced.
  const tariffs = (await api('GET', '/v1/tariffs')).body as { name: string }[];
  assert.deepEqual(
    tariffs.map((t) => t.name),
    ['default'],
  );
  await page.goto(dash.url + '/#/usage');
  await page.getByTestId('invoice-total').waitFor();
  await shot('11-usage');
  const [dl] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Download invoice (CSV)' }).click(),
  ]);
  const file = await dl.path();
  const csv = readFileSync(file!, 'utf8');
  assert.match(csv.split('\n')[0]!, /flavor/);
  assert.match(csv, /m1\.(small|medium)/);
  assert.match(dl.suggestedFilename(), /^invoice-mine-\d{4}-\d{2}-\d{2}-\d{4}-\d{2}-\d{2}\.csv$/);
});

test(
  'a member sees their tenant only: their VMs, the create form and their usage; no data center, plans or simulations',
  { skip },
  async () => {
    const memberToken = await dash.member('acme', 'ann');
    const r = await fetch(dash.url + '/v1/vms', {
      method: 'POST',
      headers: { authorization: `Bearer ${memberToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'acme-web', flavor: 'm1.small', image: 'tiny' }),
    });
    assert.equal(r.status, 202);
    const ctx = await dash.browser.newContext({ viewport: { width: 1360, height: 900 } });
    const p = await ctx.newPage();
    p.setDefaultTimeout(15_000);
    try {
      await p.goto(dash.url + '/');
      await p.fill('input[name=token]', memberToken);
      await p.click('button[type=submit]');
      await p.locator('.vm-row').first().waitFor();
      assert.deepEqual(await p.locator('header nav a').allInnerTexts(), [
        'VMs',
        'Create VM',
        'Images',
        'Volumes',
        'Usage',
      ]);
      assert.deepEqual(
        await p.locator('.vm-row').evaluateAll((rows) => rows.map((x) => x.getAttribute('data-vm'))),
        ['acme-web'],
        "only the tenant's VMs, not the admin's",
      );
      await p.goto(dash.url + '/#/plans');
      await p.getByText('No page "plans" for a member').waitFor();
      await screenshot(p, '13-member-view');
    } finally {
      await ctx.close();
    }
  },
);

test(
  'simulations: a run started from the form finishes and its policies are compared side by side',
  { skip },
  async () => {
    await page.goto(dash.url + '/#/simulations');
    await page.getByLabel('policies').fill('thr-mmt:0.8,lr-mmt:1.2');
    await page.getByRole('button', { name: 'Start' }).click();
    await page.locator('tr[data-status=done]').first().waitFor({ timeout: 120_000 });
    await page.locator('tr[data-status=done] button.link').first().click();
    const result = page.getByTestId('run-result');
    await result.waitFor({ timeout: 30_000 });
    assert.equal(await result.locator('table.grid tbody tr').count(), 2);
    assert.equal((await result.locator('.plot canvas').count()) >= 4, true);
    await shot('12-simulations');
  },
);
