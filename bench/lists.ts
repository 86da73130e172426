/**
 * `npm run bench:lists`: a page of 100 VMs at 100,000 VMs (issue 15: "a page under 10 ms"). Seeds a
 * SQLite store (in memory, or `--db FILE`) with rows written directly (10 tenants, 1,000 hosts, `--vms`
 * VMs), then times, through the API (fastify `inject`: routing, auth, validation, JSON and ETag
 * included), the first, a middle and the last page of GET /v1/vms?limit=100, a filtered page
 * (state, tenant, name prefix) and a page of hosts; and, as the baseline, the unpaginated list (every
 * VM, as GET /v1/vms answered before pagination: the same query without LIMIT, serialized). Prints
 * the query plan of the page (a range scan on the list index, no temporary B-tree for ORDER BY).
 * Options: --vms N (default 100000), --reps N, --quick (20,000 VMs, fewer repetitions), --json (one
 * JSON array of rows as the last line).
 */
import { CompiledQuery } from 'kysely';
import { buildApi } from '../src/api/server.ts';
import { ControlPlane } from '../src/control/control-plane.ts';
import { encodeCursor } from '../src/control/store/keyset.ts';
import { openStore } from '../src/control/store/open-store.ts';
import { createHostDrivers } from '../src/drivers/host-drivers.ts';
import { SimHypervisorDriver } from '../src/drivers/sim/sim-driver.ts';
import { RealClock } from '../src/runtime/clock.ts';

const arg = (name: string, d: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : d;
};
const quick = process.argv.includes('--quick'),
  json = process.argv.includes('--json');
const V = Number(arg('vms', quick ? '20000' : '100000')),
  H = 1000,
  T = 10,
  reps = Number(arg('reps', quick ? '40' : '200')),
  baseReps = quick ? 2 : 3;
const log = (s: string) => {
  if (!json) console.log(s);
};

const db = await openStore(arg('db', ':memory:'));
const clock = new RealClock();
const cp = new ControlPlane({
  db,
  clock,
  hostDrivers: createHostDrivers({ sim: new SimHypervisorDriver(clock) }),
});
const token = (await cp.bootstrap('bench-token'))!;
const admin = (await cp.authenticate(token))!;
const flavor = await cp.createFlavor(admin, { name: 'small', vcpus: 1, memoryMiB: 2048, diskGiB: 10 });
const image = await cp.createImage(admin, { name: 'tiny', format: 'kernel+initramfs', sizeMiB: 16 });

// Rows written directly (the create path is another benchmark's subject): hosts, tenants, VMs.
let t0 = performance.now();
const at = (i: number) => new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString();
const hostIds = Array.from({ length: H }, (_, i) => `host-${String(i).padStart(5, '0')}`);
for (let i = 0; i < H; i += 200)
  await db
    .insertInto('hosts')
    .values(
      hostIds.slice(i, i + 200).map((id, j) => ({
        id,
        name: `h${String(i + j).padStart(5, '0')}`,
        state: 'up',
        vcpus: 64,
        memory_mib: 262144,
        disk_gib: 4000,
        cpu_ratio: 4,
        memory_ratio: 1,
        disk_ratio: 1,
        reserved_vcpus: 0,
        reserved_memory_mib: 1024,
        reserved_disk_gib: 0,
        datacenter: 'dc1',
        rack: `r${Math.floor((i + j) / 20)}`,
        driver: 'sim',
        agent_url: null,
        power_model: JSON.stringify({ type: 'linear', idleW: 100, maxW: 250 }),
        created_at: at(0),
        last_seen_at: null,
        power_address: null,
        energy_at: at(0),
      })),
    )
    .execute();
const tenantIds: string[] = [];
for (let t = 0; t < T; t++) tenantIds.push((await cp.createTenant(admin, `t${t}`)).id);
const STATES = ['running', 'running', 'running', 'stopped', 'suspended'];
const B = 500;
for (let i = 0; i < V; i += B) {
  const n = Math.min(B, V - i);
  await db
    .insertInto('vms')
    .values(
      Array.from({ length: n }, (_, j) => {
        const k = i + j;
        return {
          id: `vm-${String(k).padStart(7, '0')}`,
          tenant_id: tenantIds[k % T]!,
          name: `web-${String(k).padStart(7, '0')}`,
          flavor_id: flavor.id,
          image_id: image.id,
          host_id: hostIds[k % H]!,
          server_group_id: null,
          state: STATES[k % STATES.length]!,
          // Creation times repeat (batches created in the same millisecond): the id breaks ties.
          created_at: at(Math.floor(k / 3)),
          updated_at: at(Math.floor(k / 3)),
          deleted_at: k % 50 === 49 ? at(V) : null,
        };
      }),
    )
    .execute();
}
const seedS = (performance.now() - t0) / 1000;
log(`seeded ${V} VMs (${T} tenants, ${H} hosts) in ${seedS.toFixed(1)} s`);

const app = buildApi(cp, {});
await app.ready();
const auth = { authorization: `Bearer ${token}` };
const get = async (url: string) => {
  const r = await app.inject({ method: 'GET', url, headers: auth });
  if (r.statusCode !== 200) throw new Error(`${url}: ${r.statusCode} ${r.body.slice(0, 300)}`);
  return r;
};

/** Median ms of `n` runs of `f` (after `n / 4` warm-up runs, so the JIT has compiled the path). */
const time = async (n: number, f: () => Promise<unknown>) => {
  for (let i = 0; i < Math.max(1, n / 4); i++) await f();
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    t0 = performance.now();
    await f();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return ms[Math.floor(ms.length / 2)]!;
};

// The cursor after the row at position `pos` of the (live) list, as the previous page would give it.
const cursorAt = async (pos: number) => {
  const r = await db
    .selectFrom('vms')
    .select(['created_at', 'id'])
    .where('deleted_at', 'is', null)
    .orderBy('created_at')
    .orderBy('id')
    .offset(pos)
    .limit(1)
    .executeTakeFirstOrThrow();
  return encodeCursor('vms', [r.created_at, r.id]);
};
const live = V - Math.floor(V / 50);
const mid = await cursorAt(Math.floor(live / 2)),
  last = await cursorAt(live - 51);

const rows: {
  name: string;
  metric: string;
  value: number;
  unit: string;
  baseline?: number;
  ratio?: number;
}[] = [];
const baseMs = await time(baseReps, async () => JSON.stringify(await cp.listVms(admin)));
const baseKiB = Math.round(JSON.stringify(await cp.listVms(admin)).length / 1024);
rows.push({ name: `unpaginated list of ${live} VMs (before)`, metric: 'ms', value: baseMs, unit: 'ms' });
log(`before: every VM in one answer: ${baseMs.toFixed(1)} ms, ${baseKiB} KiB`);
const pages: [string, string][] = [
  ['first page', '/v1/vms?limit=100'],
  ['middle page', `/v1/vms?limit=100&cursor=${mid}`],
  ['last page', `/v1/vms?limit=100&cursor=${last}`],
  ['state=stopped page', '/v1/vms?limit=100&state=stopped'],
  ['tenant page', `/v1/vms?limit=100&tenant=t3&cursor=${mid}`],
  ['name-prefix page', '/v1/vms?limit=100&name=web-000199'],
  ['fields=id,name,state page', '/v1/vms?limit=100&fields=id,name,state'],
  ['hosts first page', '/v1/hosts?limit=100'],
];
for (const [name, url] of pages) {
  const ms = await time(reps, () => get(url));
  const kib = Math.round((await get(url)).body.length / 1024);
  rows.push({
    name: `GET ${name} (100 rows)`,
    metric: 'ms',
    value: Number(ms.toFixed(2)),
    unit: 'ms',
    baseline: Number(baseMs.toFixed(1)),
    ratio: Number((baseMs / ms).toFixed(1)),
  });
  log(`after: ${name.padEnd(26)} ${ms.toFixed(2).padStart(7)} ms  ${String(kib).padStart(4)} KiB  (${url})`);
}

const plan = async (label: string, f: Parameters<typeof cp.vmReads.vmPageQuery>[1], cursor?: string) => {
  const c = cp.vmReads.vmPageQuery(admin, f, { limit: 100, cursor }).compile();
  const r = await db.executeQuery<{ detail: string }>(
    CompiledQuery.raw(`EXPLAIN QUERY PLAN ${c.sql}`, [...c.parameters]),
  );
  log(`plan (${label}): ${r.rows.map((x) => x.detail).join(' | ')}`);
};
await plan('middle page', {}, mid);
await plan('state filter', { state: 'stopped' }, mid);
await app.close();
await db.destroy();
if (json) console.log(JSON.stringify(rows));
