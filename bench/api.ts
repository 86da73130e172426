/**
 * `npm run bench:api`: start `nubis serve` with simulated hosts in its own process, create VMs through
 * the HTTP API from this one at concurrency 32, print creates per second, p50/p99 accept latency
 * (until the 202), SQL statements per create (the server's /metrics counter) and how long until every
 * created VM is running; then time the placement pipeline alone on 10,000 hosts.
 * Options: --vms N (10,000) --hosts N (1,000) --concurrency N (32); --quick (100 hosts, 2,000 VMs);
 * --json (one JSON array of rows {name, metric, value, unit} as the last stdout line).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { placeVm, type HostView } from '../src/policies/placement/pipeline.ts';

const quick = process.argv.includes('--quick');
const arg = (k: string, d: number) => {
  const i = process.argv.indexOf(`--${k}`);
  return i > 0 ? Number(process.argv[i + 1]) : d;
};
const VMS = arg('vms', quick ? 2000 : 10000),
  HOSTS = arg('hosts', quick ? 100 : 1000),
  CONC = arg('concurrency', 32);
const json = process.argv.includes('--json');
const log = (s: string) => {
  if (!json) process.stderr.write(s + '\n');
};
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const data = mkdtempSync(join(tmpdir(), 'nubis-bench-api-'));

const t0 = performance.now();
// --cpu-prof DIR: the server writes a CPU profile there when it stops.
const prof = process.argv.indexOf('--cpu-prof');
const server = spawn(
  process.execPath,
  [
    ...(prof > 0 ? ['--cpu-prof', '--cpu-prof-dir', process.argv[prof + 1]!] : []),
    join(root, 'bin/nubis.js'),
    'serve',
    '--port',
    '0',
    '--data',
    data,
    '--demo-hosts',
    String(HOSTS),
    '--rate-limit',
    '0',
  ],
  { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NUBIS_BOOTSTRAP_TOKEN: 'bench' } },
);
const url = await new Promise<string>((resolve, reject) => {
  let out = '';
  server.stdout!.on('data', (d) => {
    out += d;
    const m = /control plane on (http:\/\/[^ ]+)/.exec(out);
    if (m) resolve(m[1]!);
  });
  server.on('exit', (c) => reject(new Error(`server exited ${c}: ${out}`)));
});
log(`server up with ${HOSTS} hosts in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

// A tenant with room for every VM, and a member of it.
const admin = { authorization: 'Bearer bench', 'content-type': 'application/json' };
const post = async (path: string, body: unknown, h = admin) =>
  (
    await fetch(`${url}${path}`, { method: 'POST', headers: h, body: JSON.stringify(body) })
  ).json() as Promise<Record<string, string>>;
await post('/v1/tenants', {
  name: 'bench',
  quotas: { vcpus: 1e9, memoryMiB: 2 ** 31 - 1, vms: 1e9, diskGiB: 2 ** 31 - 1 }, // no limit (QUOTA_MAX)
});
const user = await post('/v1/users', { tenant: 'bench', name: 'loader', role: 'member' });
const { token } = await post('/v1/tokens', { name: 'bench', userId: user.id });
const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
/** The server's count of SQL statements run so far, and how many VMs are running (GET /metrics). */
const metrics = async () => {
  const text = await (await fetch(`${url}/metrics`)).text();
  const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
  return {
    statements: num(/^nubis_sql_statements_total (\d+)/m),
    running: num(/^nubis_vms\{state="running"\} (\d+)/m),
    commits: num(/^nubis_sqlite_commits_total (\d+)/m),
    transactions: num(/^nubis_sqlite_transactions_total (\d+)/m),
  };
};
const before = await metrics();
const lat: number[] = [];
let next = 0,
  failed = 0;
const tStart = performance.now();
async function worker() {
  for (;;) {
    const i = next++;
    if (i >= VMS) return;
    const s = performance.now();
    const r = await fetch(`${url}/v1/vms`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ name: `vm-${i}`, flavor: 'm1.tiny', image: 'tiny' }),
    });
    const answer = await r.text();
    lat.push(performance.now() - s);
    if (r.status !== 202 && failed++ === 0) log(`  first failure: ${r.status} ${answer.slice(0, 300)}`);
    if (i % 1000 === 999)
      log(`  ${i + 1} VMs, ${((i + 1) / ((performance.now() - tStart) / 1000)).toFixed(0)} req/s`);
  }
}
await Promise.all(Array.from({ length: CONC }, worker));
const wall = (performance.now() - tStart) / 1000;
const accepted = await metrics();
// The builds run after the 202s: wait until every created VM is running (at most 10 minutes).
let running = accepted.running;
while (running < before.running + VMS - failed && performance.now() - tStart < 600_000) {
  await new Promise((r) => setTimeout(r, 100));
  running = (await metrics()).running;
}
const allRunningS = (performance.now() - tStart) / 1000;
// One /metrics read runs statements too (the VM counts); it is not counted against the creates.
const perCreate = (accepted.statements - before.statements) / VMS;
// Transactions per fsync (SQLite's group commit; 0 on PostgreSQL, which commits on its own).
const commits = accepted.commits - before.commits;
const perCommit = commits ? (accepted.transactions - before.transactions) / commits : 0;
lat.sort((a, b) => a - b);
const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))]!;
server.kill('SIGTERM');
await new Promise((r) => server.once('exit', r));
rmSync(data, { recursive: true, force: true });

// Placement alone on 10,000 hosts.
const hosts: HostView[] = Array.from({ length: 10000 }, (_, i) => ({
  id: `h${i}`,
  name: `host-${String(i).padStart(5, '0')}`,
  state: 'up',
  capacity: { vcpus: 32, memoryMiB: 131072, diskGiB: 2000 },
  reserved: { vcpus: 0, memoryMiB: 1024, diskGiB: 0 },
  cpuRatio: 4,
  memoryRatio: 1,
  diskRatio: 1,
  used: { vcpus: (i * 7) % 100, memoryMiB: (i * 977) % 120000, diskGiB: (i * 13) % 1500 },
  vmIds: [],
}));
const reps = 200;
const p0 = performance.now();
for (let i = 0; i < reps; i++)
  placeVm(hosts, { flavor: { vcpus: 2, memoryMiB: 4096, diskGiB: 40 } }, i % 2 ? 'pack' : 'spread');
const perDecisionMs = (performance.now() - p0) / reps;

const result = {
  vms: VMS,
  hosts: HOSTS,
  concurrency: CONC,
  failed,
  wallS: Number(wall.toFixed(2)),
  createsPerS: Math.round(VMS / wall),
  p50Ms: Number(pct(50).toFixed(2)),
  p99Ms: Number(pct(99).toFixed(2)),
  statementsPerCreate: Number(perCreate.toFixed(1)),
  transactionsPerCommit: Number(perCommit.toFixed(1)),
  allRunningS: Number(allRunningS.toFixed(2)),
  running: running - before.running,
  placementMsAt10kHosts: Number(perDecisionMs.toFixed(2)),
};
const name = `api ${HOSTS} hosts / ${VMS} VMs, concurrency ${CONC}`;
const rows = [
  { name, metric: 'creates', value: result.createsPerS, unit: '/s' },
  { name, metric: 'p50', value: result.p50Ms, unit: 'ms' },
  { name, metric: 'p99', value: result.p99Ms, unit: 'ms' },
  { name, metric: 'statements per create', value: result.statementsPerCreate, unit: '' },
  { name, metric: 'transactions per commit', value: result.transactionsPerCommit, unit: '' },
  { name, metric: 'all running after', value: result.allRunningS, unit: 's' },
  { name, metric: 'failed', value: failed, unit: '' },
  { name: 'placement at 10,000 hosts', metric: 'decision', value: result.placementMsAt10kHosts, unit: 'ms' },
];
if (json) console.log(JSON.stringify(rows));
else
  log(
    `\n${VMS} VMs on ${HOSTS} hosts at concurrency ${CONC}: ${result.createsPerS} creates/s, p50 ${result.p50Ms} ms, ` +
      `p99 ${result.p99Ms} ms, ${result.statementsPerCreate} SQL statements per create, ` +
      `${result.transactionsPerCommit} transactions per commit (${failed} failed)\n` +
      `all ${result.running} running ${result.allRunningS} s after the first create\n` +
      `placement pipeline on 10,000 hosts: ${result.placementMsAt10kHosts} ms per decision`,
  );
