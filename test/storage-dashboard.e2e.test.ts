/**
 * The dashboard's storage pages in a real headless Chromium against `nubis serve` with simulated
 * hosts: a member uploads a qcow2 through the Images page (a file that is not an image is refused
 * with the server's message), creates a volume from it on the Volumes page, attaches it to a
 * running VM, snapshots it, sees it on the VM's page, detaches it there, builds
 * a new VM with it from the Create VM page, and sees the image refused for delete
 * while the volume uses it (409, "in use by"); an admin sees the storage pools and the hosts that
 * see them, and creates one. Screenshots go to test-results/dashboard/.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Page } from 'playwright-core';
import { dashboardSkip as skip, screenshot, dashboardE2e } from './helpers/dashboard-e2e.ts';

const TOKEN = 'dash-storage-admin';
const dash = dashboardE2e({ name: 'storage', adminToken: TOKEN, demoHosts: 2 });
const { api, member } = dash;

before(async () => {
  if (!skip) await dash.start();
});
after(() => dash.stop());

async function signIn(token: string, viewport = { width: 1360, height: 1000 }): Promise<Page> {
  const ctx = await dash.browser.newContext({ viewport });
  const p = await ctx.newPage();
  p.setDefaultTimeout(20_000);
  p.on('dialog', (d) => void d.accept());
  await p.goto(dash.url + '/');
  await p.fill('input[name=token]', token);
  await p.click('button[type=submit]');
  await p.locator('header nav a').first().waitFor();
  return p;
}

test(
  'a member uploads an image, makes a volume of it, attaches it to a running VM and sees it on the VM page',
  { skip },
  async () => {
    const ann = await member('acme', 'ann');
    const created = await api(ann, 'POST', '/v1/vms', { name: 'db-1', flavor: 'm1.small', image: 'tiny' });
    assert.equal(created.status, 202);
    const vmId = created.body.vmId as string;

    // A small qcow2 with data in it, and a text file that is no image.
    const seed = join(dash.data, 'seed.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', seed, '8M']);
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x6b 0 2M', seed]);
    const notes = join(dash.data, 'notes.txt');
    writeFileSync(notes, 'these are notes, not a disk image\n'.repeat(64));

    const p = await signIn(ann);
    try {
      await p.locator('header nav a', { hasText: 'Images' }).click();
      const form = p.getByTestId('image-upload');
      assert.equal(await form.locator('input[name=public]').count(), 0, 'only admins publish');

      await form.locator('input[name=imageFile]').setInputFiles(notes);
      await form.locator('input[name=imageName]').fill('notes');
      await form.locator('button[type=submit]').click();
      const refused = p.locator('p.error[role=status]');
      await refused.waitFor();
      assert.match(await refused.innerText(), /image|raw|qcow2/i);
      assert.equal(await p.locator('tr[data-image=notes]').count(), 0, 'nothing half-registered');

      await form.locator('input[name=imageFile]').setInputFiles(seed);
      await form.locator('input[name=imageName]').fill('seed');
      // Record the progress bar while the upload runs (it is gone once the upload is done).
      await p.evaluate(() => {
        const w = window as unknown as { progressSeen: number[] };
        w.progressSeen = [];
        new MutationObserver(() => {
          const bar = document.querySelector<HTMLProgressElement>('[data-testid=upload-progress]');
          if (bar) w.progressSeen.push(bar.value);
        }).observe(document.body, { subtree: true, childList: true, attributes: true });
      });
      await form.locator('button[type=submit]').click();
      await p.locator('p.ok[role=status]', { hasText: 'Uploaded seed' }).waitFor();
      const seen = await p.evaluate(() => (window as unknown as { progressSeen: number[] }).progressSeen);
      assert.ok(seen.length > 0, 'a progress bar was shown during the upload');
      assert.ok(
        seen.every((v, i) => v >= 0 && v <= 100 && (i === 0 || v >= seen[i - 1]!)),
        `${seen}`,
      );
      const row = p.locator('tr[data-image=seed]');
      await row.waitFor();
      const cells = await row.locator('td').allInnerTexts();
      assert.deepEqual(cells.slice(0, 6), ['seed', 'qcow2', '8 MiB', cells[3], 'private', 'active']);
      assert.match(cells[6]!, /^[0-9a-f]{12}$/);
      const img = await api(ann, 'GET', '/v1/images/seed');
      assert.equal(cells[6], img.body.sha256.slice(0, 12));
      await screenshot(p, '30-images');

      // A volume from the image, on the Volumes page: the page then shows it.
      await p.locator('header nav a', { hasText: 'Volumes' }).click();
      const vf = p.getByTestId('volume-create');
      await vf.locator('input[name=volumeName]').fill('data-1');
      await vf.locator('input[name=sizeGiB]').fill('1');
      await vf.locator('select[name=source]').selectOption('image');
      await vf.locator('select[name=fromImage]').selectOption('seed');
      await vf.locator('button[type=submit]').click();
      await p.getByTestId('volume-state').filter({ hasText: 'available' }).waitFor();

      // Attach it to the running VM from the volume's page.
      await p.waitForFunction(
        async ({ base, token, id }) => {
          const r = await fetch(`${base}/v1/vms/${id}`, { headers: { authorization: `Bearer ${token}` } });
          return (await r.json()).state === 'running';
        },
        { base: dash.url, token: ann, id: vmId },
        { polling: 250 },
      );
      await p.getByLabel('VM to attach to').selectOption(vmId);
      await p.getByRole('button', { name: 'attach' }).click();
      await p.getByTestId('volume-state').filter({ hasText: 'in-use' }).waitFor();
      assert.equal(await p.getByTestId('volume-vm').innerText(), 'db-1');
      // A snapshot of it, listed on the same page.
      await p.getByLabel('snapshot name').fill('before-upgrade');
      await p.getByRole('button', { name: 'snapshot', exact: true }).click();
      await p.getByTestId('volume-snapshots').locator('tr[data-snapshot=before-upgrade]').waitFor();
      await screenshot(p, '31-volume-attached');

      // The VM's page lists it; detach it there.
      await p.getByTestId('volume-vm').click();
      const mine = p.getByTestId('vm-volumes').locator('tr[data-volume=data-1]');
      await mine.waitFor();
      assert.match(await mine.innerText(), /1 GiB/);
      await screenshot(p, '32-vm-volumes');

      // The image is in use by the volume: deleting it says so.
      await p.locator('header nav a', { hasText: 'Images' }).click();
      await p.locator('tr[data-image=seed] button', { hasText: 'delete' }).click();
      const inUse = p.locator('p.error[role=status]');
      await inUse.waitFor();
      assert.match(await inUse.innerText(), /in use by .*data-1/);

      await p.goto(dash.url + `/#/vms/${vmId}`);
      await mine.locator('button', { hasText: 'detach' }).click();
      await p.getByTestId('vm-volumes-card').getByText('detach data-1: done').waitFor();
      await p.getByTestId('vm-volumes-card').locator('select option', { hasText: 'data-1' }).waitFor({
        state: 'attached',
      });
      assert.equal((await api(ann, 'GET', '/v1/volumes/data-1')).body.state, 'available');

      // A new VM built with the volume, from the Create VM page: its page lists the volume.
      await p.locator('header nav a', { hasText: 'Create VM' }).click();
      await p.fill('input[name=name]', 'db-2');
      await p.getByTestId('create-volumes').locator('input[value=data-1]').check();
      await p.getByRole('button', { name: 'Create', exact: true }).click();
      await p.getByTestId('vm-volumes').locator('tr[data-volume=data-1]').waitFor();
      assert.equal((await api(ann, 'GET', '/v1/volumes/data-1')).body.vm, 'db-2');
    } finally {
      await p.context().close();
    }

    // The admin's storage pools: the pool the first volume made, seen by both simulated hosts; create one.
    const a = await signIn(TOKEN);
    try {
      await a.locator('header nav a', { hasText: 'Storage pools' }).click();
      const pools = (await api(TOKEN, 'GET', '/v1/storage-pools')).body as { name: string }[];
      const first = a.locator(`tr[data-pool="${pools[0]!.name}"]`);
      await first.locator('td', { hasText: /sim-\d+, sim-\d+/ }).waitFor();
      const pf = a.getByTestId('pool-create');
      await pf.locator('input[name=poolName]').fill('nas');
      await pf.locator('select[name=kind]').selectOption('shared');
      await pf.locator('button[type=submit]').click();
      await a.locator('tr[data-pool=nas]').waitFor();
      assert.deepEqual((await a.locator('tr[data-pool=nas] td').allInnerTexts()).slice(0, 3), [
        'nas',
        'shared',
        'every zone',
      ]);
      await screenshot(a, '33-storage-pools');
    } finally {
      await a.context().close();
    }
  },
);
