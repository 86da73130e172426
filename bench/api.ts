/**
 * `npm run bench:api`: start `nubis serve` with 1,000 simulated hosts in its own process, create
 * 10,000 VMs through the HTTP API from this one (concurrency 16), print requests per second and
 * p50/p99 latency; then time the placement pipeline alone on 10,000 hosts.
 * Options: --vms N --hosts N --concurrency N --json.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { placeVm, type HostView } from '../src/policies/placement/pipeline.ts';

const arg = (k: string, d: number) => {
  const i = process.argv.indexOf(`--${k}`);
  return i > 0 ? Number(process.argv[i + 1]) : d;
};
const VMS = arg('vms', 10000),
  HOSTS = arg('hosts', 1000),
  CONC = arg('concurrency', 16);
const json = process.argv.includes('--json');
const log = (s: string) => {
  if (!json) process.stderr.write(s + '\n');
};
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const data = mkdtempSync(join(tmpdir(), 'nubis-bench-api-'));

const t0 = performance.now();
const server = spawn(
  process.execPath,
  [
    join(root, 'bin/nubis.js'),
    'serve',
    '--port',
    '0',
    '--data',
    data,
    '--bootstrap-token',
    'bench',
    '--demo-hosts',
    String(HOSTS),
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
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
  quotas: { vcpus: 1e9, memoryMiB: 1e12, vms: 1e9, diskGiB: 1e12 },
});
const user = await post('/v1/users', { tenant: 'bench', name: 'loader', role: 'member' });
const { token } = await post('/v1/tokens', { name: 'bench', userId: user.id });
const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
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
    await r.arrayBuffer();
    lat.push(performance.now() - s);
    if (r.status !== 202) failed++;
    if (i % 1000 === 999)
      log(`  ${i + 1} VMs, ${((i + 1) / ((performance.now() - tStart) / 1000)).toFixed(0)} req/s`);
  }
}
await Promise.all(Array.from({ length: CONC }, worker));
const wall = (performance.now() - tStart) / 1000;
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
  requestsPerS: Math.round(VMS / wall),
  p50Ms: Number(pct(50).toFixed(2)),
  p99Ms: Number(pct(99).toFixed(2)),
  placementMsAt10kHosts: Number(perDecisionMs.toFixed(2)),
};
if (json) console.log(JSON.stringify(result, null, 2));
else
  log(
    `\n${VMS} VMs on ${HOSTS} hosts: ${result.requestsPerS} req/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms (${failed} failed)\nplacement pipeline on 10,000 hosts: ${result.placementMsAt10kHosts} ms per decision`,
  );
