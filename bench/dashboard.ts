/// <reference lib="dom" />
/**
 * `npm run bench:dashboard`: is the dashboard interactive at 1,000 hosts / 10,000 VMs and at 10,000
 * hosts / 100,000 VMs? Seeds an in-memory control plane, serves it, and measures in Debian's Chromium
 * (playwright-core): the data-center page's first tiles and all tiles, the VM list's first rows, a
 * filter to one VM, a scroll to the end (at most to row 50,000), the longest main-thread task of each
 * page, the bytes each page transferred, and the API answers behind them (the summary, the overview,
 * and the host and VM lists: their first page of 100 rows, and a walk of all pages with limit=1000).
 *
 * Seeding: the first 50 hosts and 500 VMs go through the control plane (real placement, events,
 * operations); the rest are copies of those rows written in bulk (new id, name, rack, host; the hosts'
 * used capacity and VM counts updated to match, VMs spread over hosts as the `spread` preset does),
 * so 100,000 VMs seed in seconds. Events and operations of the copies are not written (no page here
 * reads them).
 *
 * Options: --web DIR (the built dashboard to serve; default web/dist), --baseline DIR|REF (an older
 * dashboard measured in the same run: each figure with the old one and the ratio), --hosts N --vms N (one size; default both 1,000/10,000 and 10,000/100,000), --api-only (no browser), --quick
 * (300 hosts / 3,000 VMs), --json (one JSON array of rows as the last line).
 */
import { execSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { chromium, type Page } from 'playwright-core';
import { buildApi } from '../src/api/server.ts';
import { ControlPlane } from '../src/control/control-plane.ts';
import { openStore } from '../src/control/store/open-store.ts';
import { createHostDrivers } from '../src/drivers/host-drivers.ts';
import { SimHypervisorDriver } from '../src/drivers/sim/sim-driver.ts';
import { RealClock } from '../src/runtime/clock.ts';
import { demoUtilization } from '../src/sim/synthetic.ts';

const argv = process.argv;
const arg = (name: string) => {
  const i = argv.indexOf(`--${name}`);
  return i > 0 ? Number(argv[i + 1]) : undefined;
};
const json = argv.includes('--json');
/** `--api-only`: the API timings without the browser (e.g. `--api-only --hosts 10000 --vms 100000`). */
const apiOnly = argv.includes('--api-only');
const sizes: [number, number][] =
  arg('hosts') || arg('vms')
    ? [[arg('hosts') ?? 1000, arg('vms') ?? 10000]]
    : argv.includes('--quick')
      ? [[300, 3000]]
      : [
          [1000, 10000],
          [10000, 100000],
        ];
const root = join(fileURLToPath(import.meta.url), '../..');
/** The dashboard's built files to serve: web/dist, or `--web DIR` (e.g. an older build, for a before/after). */
const webDir = argv.includes('--web') ? argv[argv.indexOf('--web') + 1]! : join(root, 'web', 'dist');
/**
 * `--baseline DIR|REF`: the same pages from an older dashboard in the same run (a built web/dist, or a
 * git ref whose web/ is built here, e.g. `--baseline main~5`), for the ratio of each figure.
 */
const baselineDir = ((b?: string) => {
  if (!b) return undefined;
  if (existsSync(join(b, 'index.html'))) return b;
  const dir = mkdtempSync(join(tmpdir(), 'nubis-dash-baseline-'));
  execSync(`git -C ${JSON.stringify(root)} archive ${JSON.stringify(b)} | tar -x -C ${JSON.stringify(dir)}`);
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  execSync('npx vite build --config web/vite.config.ts --logLevel warn', { cwd: dir, stdio: 'ignore' });
  return join(dir, 'web', 'dist');
})(argv.includes('--baseline') ? argv[argv.indexOf('--baseline') + 1] : undefined);
/** The VM list's row height (px): the scroll goes to row N's position, or as far as the rows read reach. */
const ROW_PX = 34;
const log = (s: string) => (json ? process.stderr.write(s + '\n') : console.log(s));

/** A control plane with H hosts and V VMs (see the module comment), its admin token and seconds taken. */
async function seed(H: number, V: number) {
  const db = await openStore(':memory:');
  const clock = new RealClock();
  const cp = new ControlPlane({
    db,
    clock,
    hostDrivers: createHostDrivers({ sim: new SimHypervisorDriver(clock) }),
  });
  const token = (await cp.bootstrap('bench-token'))!;
  const admin = (await cp.authenticate(token))!;
  await cp.setQuotas(admin, 'admin', { vcpus: 1e9, memoryMiB: 2 ** 31 - 1, vms: 1e9, diskGiB: 2 ** 31 - 1 });
  await cp.createFlavor(admin, { name: 'small', vcpus: 1, memoryMiB: 2048, diskGiB: 10 });
  await cp.createImage(admin, { name: 'tiny', format: 'kernel+initramfs', sizeMiB: 16 });
  const t0 = performance.now();
  const hostName = (i: number) => `h${String(i).padStart(5, '0')}`;
  const rack = (i: number) => `r${Math.ceil(i / 20)}`;
  const viaApiHosts = Math.min(H, 50);
  for (let i = 1; i <= viaApiHosts; i++)
    await cp.createHost(admin, {
      name: hostName(i),
      vcpus: 32,
      memoryMiB: 131072,
      diskGiB: 2000,
      rack: rack(i),
      driver: 'sim',
    });
  const hostTpl = await db.selectFrom('hosts').selectAll().executeTakeFirstOrThrow();
  const hostRows = [];
  for (let i = viaApiHosts + 1; i <= H; i++)
    hostRows.push({ ...hostTpl, id: randomUUID(), name: hostName(i), rack: rack(i) });
  for (let i = 0; i < hostRows.length; i += 500)
    await db
      .insertInto('hosts')
      .values(hostRows.slice(i, i + 500))
      .execute();
  const vmName = (i: number) => `vm-${String(i).padStart(6, '0')}`;
  const viaApiVms = Math.min(V, 500);
  for (let i = 0; i < viaApiVms; i++)
    await cp.createVm(admin, { name: vmName(i), flavor: 'small', image: 'tiny', preset: 'spread' });
  // The copies go on the hosts with the fewest VMs first, as `spread` would, after the real ones.
  const hosts = await db
    .selectFrom('hosts')
    .select(['id', 'vm_count'])
    .orderBy('vm_count')
    .orderBy('name')
    .execute();
  const vmTpl = await db.selectFrom('vms').selectAll().orderBy('created_at').executeTakeFirstOrThrow();
  const base = Date.parse(vmTpl.created_at) + 86_400_000;
  const perHost = new Map<string, number>();
  const vmRows = [];
  for (let i = viaApiVms; i < V; i++) {
    const host = hosts[(i - viaApiVms) % hosts.length]!.id;
    perHost.set(host, (perHost.get(host) ?? 0) + 1);
    const at = new Date(base + i).toISOString();
    vmRows.push({
      ...vmTpl,
      id: randomUUID(),
      name: vmName(i),
      host_id: host,
      created_at: at,
      updated_at: at,
    });
  }
  for (let i = 0; i < vmRows.length; i += 500)
    await db
      .insertInto('vms')
      .values(vmRows.slice(i, i + 500))
      .execute();
  for (const [id, n] of perHost)
    await db
      .updateTable('hosts')
      .set({
        used_vcpus: sql`used_vcpus + ${n}`,
        used_memory_mib: sql`used_memory_mib + ${n * 2048}`,
        used_disk_gib: sql`used_disk_gib + ${n * 10}`,
        vm_count: sql`vm_count + ${n}`,
      })
      .where('id', '=', id)
      .execute();
  const ids = await db.selectFrom('vms').select('id').execute();
  await cp.recordMetrics(
    admin,
    ids.map((v) => ({ vm: v.id, cpu: demoUtilization(v.id, 0) })),
  );
  return { db, cp, token, seedS: (performance.now() - t0) / 1000 };
}

/** The longest main-thread task since the last call (ms), from the page's PerformanceObserver. */
const longestTask = (page: Page) =>
  page.evaluate(() => {
    const w = window as unknown as { nubisLongest: number };
    const m = w.nubisLongest;
    w.nubisLongest = 0;
    return Math.round(m);
  });

async function measure(H: number, V: number) {
  const { db, cp, token, seedS } = await seed(H, V);
  const app = buildApi(cp, { web: webDir });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const timeApi = async (path: string) => {
    const t = performance.now();
    const r = await fetch(url + path, { headers: { authorization: `Bearer ${token}` } });
    const body = await r.text();
    return { ms: Math.round(performance.now() - t), kib: Math.round(body.length / 1024), status: r.status };
  };
  /** Every page of a list, following X-Next-Cursor (time and bytes summed over the pages). */
  const walkApi = async (path: string) => {
    const t = performance.now();
    let bytes = 0;
    let pages = 0;
    for (let cursor: string | null = ''; cursor !== null; pages++) {
      const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const r: Response = await fetch(url + path + q, { headers: { authorization: `Bearer ${token}` } });
      bytes += (await r.text()).length;
      if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
      cursor = r.headers.get('x-next-cursor');
    }
    return { ms: Math.round(performance.now() - t), kib: Math.round(bytes / 1024), pages };
  };
  // Lists answer a page (100 rows by default, at most 1,000): one page, and a walk of every page.
  const api = {
    summary: await timeApi('/v1/datacenter/summary'),
    'hosts first page (100 rows)': await timeApi('/v1/hosts'),
    'hosts all pages (limit=1000)': await walkApi('/v1/hosts?limit=1000'),
    'vms first page (100 rows)': await timeApi('/v1/vms'),
    'vms all pages (limit=1000)': await walkApi('/v1/vms?limit=1000'),
    overview: await timeApi('/v1/overview'),
  };

  if (apiOnly) {
    await app.close();
    await db.destroy();
    return { hosts: H, vms: V, seedS: Number(seedS.toFixed(1)), api, now: undefined, before: undefined };
  }
  const now = await inBrowser(url, token, H, V);
  let before: Awaited<ReturnType<typeof inBrowser>> | undefined;
  if (baselineDir) {
    const old = buildApi(cp, { web: baselineDir });
    before = await inBrowser(await old.listen({ host: '127.0.0.1', port: 0 }), token, H, V);
    await old.close();
  }
  await app.close();
  await db.destroy();
  return { hosts: H, vms: V, seedS: Number(seedS.toFixed(1)), api, now, before };
}

/** The two pages in Chromium against `url`: tiles, VM list, filter, scroll, longest tasks, bytes. */
async function inBrowser(url: string, token: string, H: number, V: number) {
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
  page.setDefaultTimeout(600_000);
  await page.addInitScript((t) => {
    sessionStorage.setItem('nubis.token', t);
    const w = window as unknown as { nubisLongest: number };
    w.nubisLongest = 0;
    new PerformanceObserver((l) => {
      for (const e of l.getEntries()) w.nubisLongest = Math.max(w.nubisLongest, e.duration);
    }).observe({ type: 'longtask', buffered: true });
  }, token);
  let bytes = 0;
  page.on('requestfinished', (r) => {
    r.sizes().then(
      (s) => (bytes += s.responseBodySize + s.responseHeadersSize),
      () => {},
    );
  });
  const took = (t: number) => Math.round(performance.now() - t);
  if (process.env.NUBIS_BENCH_TRACE) {
    const t = performance.now();
    page.on('requestfinished', (r) => log(`    ${took(t)} ms: ${r.method()} ${r.url().replace(url, '')}`));
  }

  let t0 = performance.now();
  await page.goto(url + '/');
  await page.locator('.tile').first().waitFor();
  const firstTilesMs = took(t0);
  await page.waitForFunction((n) => document.querySelectorAll('.tile').length === n, H);
  const tilesMs = took(t0);
  await page.waitForTimeout(2500); // one poll of the page's data
  const tilesLongTaskMs = await longestTask(page);
  const tilesKiB = Math.round(bytes / 1024);

  bytes = 0;
  t0 = performance.now();
  await page.goto(url + '/#/vms');
  await page.locator('.vm-row').first().waitFor();
  const listMs = took(t0);
  const rowsInDom = await page.locator('.vm-row').count();
  const last = vmName(V - 1);
  t0 = performance.now();
  await page.fill('input[aria-label=filter]', last);
  await page.waitForFunction(
    (n) => document.querySelectorAll('.vm-row').length === 1 && !!document.querySelector(`[data-vm="${n}"]`),
    last,
  );
  const filterMs = took(t0);
  await page.fill('input[aria-label=filter]', '');
  await page.waitForFunction(() => document.querySelectorAll('.vm-row').length > 1);
  const target = Math.min(V, 50_000) - 1;
  t0 = performance.now();
  // Scroll towards the target row on every frame until it is drawn (pages load as the list nears its end).
  await page.waitForFunction(
    ([n, y]) => {
      if (document.querySelector(`.vm-row[data-vm="${n}"]`)) return true;
      const el = document.querySelector('.vlist')!;
      el.scrollTop = Math.min(el.scrollHeight, y);
      return false;
    },
    [vmName(target), target * ROW_PX] as const,
    { polling: 'raf' },
  );
  const scrollMs = took(t0);
  const listLongTaskMs = await longestTask(page);
  const listKiB = Math.round(bytes / 1024);
  await browser.close();
  return {
    firstTilesMs,
    tilesMs,
    tilesLongTaskMs,
    tilesKiB,
    listMs,
    rowsInDom,
    filterMs,
    scrollRow: target + 1,
    scrollMs,
    listLongTaskMs,
    listKiB,
  };
}
function vmName(i: number) {
  return `vm-${String(i).padStart(6, '0')}`;
}

type Row = { name: string; metric: string; value: number; unit: string; baseline?: number; ratio?: number };
const rows: Row[] = [];
/** A figure, with the baseline's and the ratio baseline ÷ now (above 1: faster or smaller now). */
const fig = (v: number, b: number | undefined, unit: string) =>
  `${v} ${unit}${b === undefined ? '' : ` (was ${b} ${unit}, ${(b / Math.max(v, 1)).toFixed(1)}×)`}`;
for (const [H, V] of sizes) {
  const { seedS, api, now: r, before: b } = await measure(H, V);
  const name = `dashboard ${H}h/${V}vm`;
  const add = (metric: string, value: number, unit: string, baseline?: number) =>
    rows.push({
      name,
      metric,
      value,
      unit,
      ...(baseline === undefined
        ? {}
        : { baseline, ratio: Number((baseline / Math.max(value, 1)).toFixed(2)) }),
    });
  add('seed', seedS, 's');
  for (const [k, a] of Object.entries(api)) {
    add(`api ${k}`, a.ms, 'ms');
    add(`api ${k} size`, a.kib, 'KiB');
  }
  log(`${name}: seeded in ${seedS} s`);
  log(
    `  API: ${Object.entries(api)
      .map(([k, a]) => `${k} ${a.ms} ms (${a.kib} KiB${'pages' in a ? `, ${a.pages} pages` : ''})`)
      .join(', ')}`,
  );
  if (!r) continue;
  add('first tiles', r.firstTilesMs, 'ms', b?.firstTilesMs);
  add('all tiles', r.tilesMs, 'ms', b?.tilesMs);
  add('data-center longest task', r.tilesLongTaskMs, 'ms', b?.tilesLongTaskMs);
  add('data-center transferred', r.tilesKiB, 'KiB', b?.tilesKiB);
  add('VM list first rows', r.listMs, 'ms', b?.listMs);
  add('VM list filter to one', r.filterMs, 'ms', b?.filterMs);
  add(`VM list scroll to row ${r.scrollRow}`, r.scrollMs, 'ms', b?.scrollMs);
  add('VM list longest task', r.listLongTaskMs, 'ms', b?.listLongTaskMs);
  add('VM list transferred', r.listKiB, 'KiB', b?.listKiB);
  log(
    `  data center: first tiles ${fig(r.firstTilesMs, b?.firstTilesMs, 'ms')}, all ${H} tiles ${fig(r.tilesMs, b?.tilesMs, 'ms')}, longest task ${fig(r.tilesLongTaskMs, b?.tilesLongTaskMs, 'ms')}, transferred ${fig(r.tilesKiB, b?.tilesKiB, 'KiB')}`,
  );
  log(
    `  VM list: first rows ${fig(r.listMs, b?.listMs, 'ms')} (${r.rowsInDom} rows in the DOM), filter to one ${fig(r.filterMs, b?.filterMs, 'ms')}, scroll to row ${r.scrollRow} ${fig(r.scrollMs, b?.scrollMs, 'ms')}, longest task ${fig(r.listLongTaskMs, b?.listLongTaskMs, 'ms')}, transferred ${fig(r.listKiB, b?.listKiB, 'KiB')}`,
  );
}
if (json) console.log(JSON.stringify(rows));
