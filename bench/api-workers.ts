/**
 * `npm run bench:api-workers`: VM creates per second and their p99 latency through the HTTP API on
 * PostgreSQL with 1 and then 2 API processes (`nubis serve --workers N`), simulated hosts,
 * concurrency 32, then GET /v1/vms/ID (reads take no row lock); the ratio of 2 to 1 in the same run. Each run gets a fresh database.
 * PostgreSQL: NUBIS_BENCH_PG_URL or NUBIS_TEST_PG_URL (a user that may create databases); without
 * one, the benchmark says so and prints no figures.
 * Options: --quick (600 VMs), --vms N (default 4,000), --hosts N (default 200), --concurrency N,
 * --workers LIST (default 1,2), --tenants N (default 1: the creates are spread over N tenants'
 * tokens), --json (one JSON array of rows as the last stdout line).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const arg = (k: string) => {
  const i = process.argv.indexOf(`--${k}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const quick = process.argv.includes('--quick');
const json = process.argv.includes('--json');
const VMS = Number(arg('vms') ?? (quick ? 600 : 4000));
const HOSTS = Number(arg('hosts') ?? (quick ? 100 : 200));
const CONC = Number(arg('concurrency') ?? 32);
const WORKERS = (arg('workers') ?? '1,2').split(',').map(Number);
const TENANTS = Number(arg('tenants') ?? 1);
const READS = quick ? 2000 : 10000;
const log = (s: string) => {
  if (!json) process.stderr.write(s + '\n');
};
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const base = process.env.NUBIS_BENCH_PG_URL ?? process.env.NUBIS_TEST_PG_URL;

interface Row {
  name: string;
  metric: string;
  value: number;
  unit: string;
  baseline?: number;
  ratio?: number;
}

/** A fresh database on `base`, and how to drop it. */
async function freshDb(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `nubis_bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const u = new URL(base!);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`).finally(() => c.end());
    },
  };
}

/** Serve with `workers` API processes, create VMS VMs at concurrency CONC; creates/s and latencies. */
async function run(workers: number) {
  const db = await freshDb();
  const data = mkdtempSync(join(tmpdir(), 'nubis-bench-workers-'));
  const server = spawn(
    process.execPath,
    [
      join(root, 'bin/nubis.js'),
      'serve',
      ...['--port', '0', '--data', data, '--db', db.url, '--workers', String(workers)],
      ...['--demo-hosts', String(HOSTS), '--rate-limit', '0', '--sim-load-interval-s', '0'],
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NUBIS_BOOTSTRAP_TOKEN: 'bench' } },
  );
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      server.stdout!.on('data', (d) => {
        out += d;
        const m = /control plane on (http:\/\/[^ ]+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      server.on('exit', (c) => reject(new Error(`server exited ${c}: ${out}`)));
    });
    const admin = { authorization: 'Bearer bench', 'content-type': 'application/json' };
    const post = async (path: string, body: unknown) =>
      (await (
        await fetch(`${url}${path}`, { method: 'POST', headers: admin, body: JSON.stringify(body) })
      ).json()) as Record<string, string>;
    // TENANTS tenants, each with a member: a tenant's creates take turns on its usage row.
    const tokens: string[] = [];
    for (let t = 0; t < TENANTS; t++) {
      const tenant = `bench-${t}`;
      await post('/v1/tenants', {
        name: tenant,
        quotas: { vcpus: 1e6, memoryMiB: 1e9, vms: 1e6, diskGiB: 1e9 },
      });
      const user = await post('/v1/users', { tenant, name: `loader-${t}`, role: 'member' });
      tokens.push((await post('/v1/tokens', { name: 'bench', userId: user.id })).token!);
    }
    let n = 0;
    const create = async (name: string) => {
      const s = performance.now();
      const r = await fetch(`${url}/v1/vms`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens[n++ % TENANTS]}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name, flavor: 'm1.tiny', image: 'tiny' }),
      });
      await r.arrayBuffer();
      return { ms: performance.now() - s, ok: r.status === 202 };
    };
    // Warm-up (JIT, connection pools), not measured.
    await Promise.all(Array.from({ length: CONC }, (_, i) => create(`warm-${i}`)));
    const lat: number[] = [];
    let next = 0,
      failed = 0;
    const t0 = performance.now();
    const client = async () => {
      for (let i = next++; i < VMS; i = next++) {
        const r = await create(`vm-${i}`);
        lat.push(r.ms);
        if (!r.ok) failed++;
      }
    };
    await Promise.all(Array.from({ length: CONC }, client));
    const wallS = (performance.now() - t0) / 1000;
    lat.sort((a, b) => a - b);
    const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))]!;
    // Reads, which take no row lock: GET /v1/vms/ID of the VMs just made, READS times.
    // The list may be a page ({ items }) once lists are paginated.
    const listed = (await (await fetch(`${url}/v1/vms`, { headers: admin })).json()) as
      { id: string }[] | { items: { id: string }[] };
    const ids = (Array.isArray(listed) ? listed : listed.items).slice(0, 100).map((v) => v.id);
    let nextRead = 0;
    const r0 = performance.now();
    const reader = async () => {
      for (let i = nextRead++; i < READS; i = nextRead++) {
        const r = await fetch(`${url}/v1/vms/${ids[i % ids.length]}`, { headers: admin });
        await r.arrayBuffer();
        if (r.status !== 200) failed++;
      }
    };
    await Promise.all(Array.from({ length: CONC }, reader));
    const readsPerS = READS / ((performance.now() - r0) / 1000);
    return { createsPerS: VMS / wallS, p50Ms: pct(50), p99Ms: pct(99), readsPerS, failed };
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => (server.exitCode !== null ? r(null) : server.once('exit', r)));
    rmSync(data, { recursive: true, force: true });
    await db.drop();
  }
}

if (!base) {
  log('api-workers: no PostgreSQL (set NUBIS_BENCH_PG_URL or NUBIS_TEST_PG_URL); skipped');
  if (json) console.log('[]');
} else {
  const rows: Row[] = [];
  let one: number | undefined, oneReads: number | undefined;
  for (const w of WORKERS) {
    const r = await run(w);
    log(
      `${w} API process(es): ${r.createsPerS.toFixed(0)} creates/s, p50 ${r.p50Ms.toFixed(1)} ms, ` +
        `p99 ${r.p99Ms.toFixed(1)} ms; ${r.readsPerS.toFixed(0)} reads/s (${VMS} VMs, ${HOSTS} hosts, ${TENANTS} tenant(s), concurrency ${CONC}, ${r.failed} failed)`,
    );
    if (w === 1) [one, oneReads] = [r.createsPerS, r.readsPerS];
    rows.push({
      name: `api-workers ${w}`,
      metric: 'creates/s',
      value: Math.round(r.createsPerS),
      unit: 'creates/s',
      ...(one !== undefined && w !== 1
        ? { baseline: Math.round(one), ratio: Number((r.createsPerS / one).toFixed(2)) }
        : {}),
    });
    rows.push({ name: `api-workers ${w}`, metric: 'p99', value: Number(r.p99Ms.toFixed(1)), unit: 'ms' });
    rows.push({
      name: `api-workers ${w}`,
      metric: 'reads/s',
      value: Math.round(r.readsPerS),
      unit: 'GET /v1/vms/ID per s',
      ...(oneReads !== undefined && w !== 1
        ? { baseline: Math.round(oneReads), ratio: Number((r.readsPerS / oneReads).toFixed(2)) }
        : {}),
    });
    if (r.failed) rows.push({ name: `api-workers ${w}`, metric: 'failed', value: r.failed, unit: 'creates' });
  }
  if (json) console.log(JSON.stringify(rows));
}
