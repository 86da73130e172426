/// <reference lib="dom" />
/**
 * `npm run bench:dashboard`: is the dashboard usable at 1,000 hosts and 10,000 VMs? Seeds an
 * in-memory control plane, serves it, and measures in Debian's Chromium (playwright-core): time to
 * show every host tile, time to show the VM list, time to filter it, a scroll to the end, and the
 * API calls behind the pages. Options: --hosts N, --vms N, --json.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { buildApi } from '../src/api/server.ts';
import { ControlPlane } from '../src/control/control-plane.ts';
import { openStore } from '../src/control/store/open-store.ts';
import { createHostDrivers } from '../src/drivers/host-drivers.ts';
import { SimHypervisorDriver } from '../src/drivers/sim/sim-driver.ts';
import { RealClock } from '../src/runtime/clock.ts';
import { demoUtilization } from '../src/sim/synthetic.ts';

const arg = (name: string, d: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : d;
};
const H = arg('hosts', 1000),
  V = arg('vms', 10000),
  json = process.argv.includes('--json');
const root = join(fileURLToPath(import.meta.url), '../..');

const db = await openStore(':memory:');
const clock = new RealClock();
const cp = new ControlPlane({
  db,
  clock,
  hostDrivers: createHostDrivers({ sim: new SimHypervisorDriver(clock) }),
});
const token = (await cp.bootstrap('bench-token'))!;
const admin = (await cp.authenticate(token))!;
await cp.setQuotas(admin, 'admin', { vcpus: 1e9, memoryMiB: 1e12, vms: 1e9, diskGiB: 1e12 });
await cp.createFlavor(admin, { name: 'small', vcpus: 1, memoryMiB: 2048, diskGiB: 10 });
await cp.createImage(admin, { name: 'tiny', format: 'kernel+initramfs', sizeMiB: 16 });
let t0 = performance.now();
for (let i = 1; i <= H; i++)
  await cp.createHost(admin, {
    name: `h${String(i).padStart(4, '0')}`,
    vcpus: 32,
    memoryMiB: 131072,
    diskGiB: 2000,
    rack: `r${Math.ceil(i / 20)}`,
    driver: 'sim',
  });
for (let i = 0; i < V; i++)
  await cp.createVm(admin, {
    name: `vm-${String(i).padStart(5, '0')}`,
    flavor: 'small',
    image: 'tiny',
    preset: 'spread',
  });
const vms = await cp.listVms(admin);
await cp.recordMetrics(
  admin,
  vms.map((v) => ({ vm: v.id, cpu: demoUtilization(v.id, 0) })),
);
const seedS = (performance.now() - t0) / 1000;
const app = buildApi(cp, { web: join(root, 'web', 'dist') });
const url = await app.listen({ host: '127.0.0.1', port: 0 });

const timeApi = async (path: string) => {
  const t = performance.now();
  const r = await fetch(url + path, { headers: { authorization: `Bearer ${token}` } });
  const body = await r.text();
  return { ms: Math.round(performance.now() - t), kib: Math.round(body.length / 1024) };
};
const apiHosts = await timeApi('/v1/hosts'),
  apiVms = await timeApi('/v1/vms'),
  apiOverview = await timeApi('/v1/overview');

const browser = await chromium.launch({
  executablePath: process.env.NUBIS_CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ],
});
const page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
page.setDefaultTimeout(120_000);
await page.addInitScript((t) => sessionStorage.setItem('nubis.token', t), token);
t0 = performance.now();
await page.goto(url + '/');
await page
  .waitForFunction((n) => document.querySelectorAll('.tile').length === n, H)
  .catch(async (e) => {
    console.log(
      await page.evaluate(() => document.body.innerText.slice(0, 500)),
      await page.locator('.tile').count(),
    );
    throw e;
  });
const tilesMs = Math.round(performance.now() - t0);
t0 = performance.now();
await page.goto(url + '/#/vms');
await page.locator('.vm-row').first().waitFor();
const listMs = Math.round(performance.now() - t0);
const rowsInDom = await page.locator('.vm-row').count();
t0 = performance.now();
await page.fill('input[aria-label=filter]', `vm-${String(V - 1).padStart(5, '0')}`);
await page.waitForFunction(() => document.querySelectorAll('.vm-row').length === 1);
const filterMs = Math.round(performance.now() - t0);
await page.fill('input[aria-label=filter]', '');
await page.waitForFunction(
  (n) => document.querySelectorAll('.vm-row').length > 1 && document.querySelectorAll('.vm-row').length < n,
  V,
);
t0 = performance.now();
await page.evaluate(() => {
  const el = document.querySelector('.vlist')!;
  el.scrollTop = el.scrollHeight;
});
await page.locator('.vm-row[data-vm="vm-' + String(V - 1).padStart(5, '0') + '"]').waitFor();
const scrollMs = Math.round(performance.now() - t0);
await browser.close();
await app.close();
await db.destroy();

const out = {
  hosts: H,
  vms: V,
  seedS: Number(seedS.toFixed(1)),
  api: { hosts: apiHosts, vms: apiVms, overview: apiOverview },
  tilesMs,
  listMs,
  rowsInDom,
  filterMs,
  scrollMs,
};
if (json) console.log(JSON.stringify(out, null, 2));
else {
  console.log(`seeded ${H} hosts and ${V} VMs in ${out.seedS} s`);
  console.log(
    `API: /v1/hosts ${apiHosts.ms} ms (${apiHosts.kib} KiB), /v1/vms ${apiVms.ms} ms (${apiVms.kib} KiB), /v1/overview ${apiOverview.ms} ms`,
  );
  console.log(`data center page: ${H} tiles in ${tilesMs} ms`);
  console.log(
    `VM list: first rows in ${listMs} ms (${rowsInDom} rows in the DOM of ${V}); filter to one in ${filterMs} ms; scroll to the end in ${scrollMs} ms`,
  );
}
