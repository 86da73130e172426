/**
 * `npm run bench:scheduler`: one placement decision and a batch of placements at 1,000 and 10,000
 * hosts, the plain pipeline (`placeVm`, a scan of every host) against the index (`HostIndex`), in the
 * same run; then `Scheduler.placeAndClaim` end to end in a ControlPlane on in-memory SQLite with
 * simulated hosts, the scan path against the index path.
 * With measured hosts (issue 17): the same, once `--measured N` hosts (default 100, 20 with --quick;
 * 0 skips it) have the 'measured' memory policy and VMs with profiles and synthetic fingerprints
 * (~1,500 sampled hashes each): `decide` alone and `placeAndClaim`, the scan against the index path.
 * Options: --quick (fewer hosts and repetitions), --json (one JSON array of rows as the last line).
 */
import { ControlPlane, seedDemo, type Principal } from '../src/control/control-plane.ts';
import { openStore } from '../src/control/store/open-store.ts';
import { syntheticFingerprint } from '../src/core/memory/fingerprint.ts';
import { createHostDrivers } from '../src/drivers/host-drivers.ts';
import { SimHypervisorDriver } from '../src/drivers/sim/sim-driver.ts';
import { HostIndex } from '../src/policies/placement/host-index.ts';
import { placeVm, type HostView, type PlacementRequest } from '../src/policies/placement/pipeline.ts';
import { SimClock } from '../src/runtime/clock.ts';
import { seededRandom, type Random } from '../src/runtime/random.ts';

const quick = process.argv.includes('--quick');
const json = process.argv.includes('--json');
const measuredArg = process.argv.indexOf('--measured');
const MEASURED = measuredArg >= 0 ? Number(process.argv[measuredArg + 1]) : quick ? 20 : 100;
const log = (s: string) => {
  if (!json) process.stderr.write(s + '\n');
};
interface Row {
  name: string;
  metric: string;
  value: number;
  unit: string;
  baseline?: number;
  ratio?: number;
}
const rows: Row[] = [];
const round = (x: number, d = 3) => Number(x.toFixed(d));
/** A row with the plain scan as its baseline: ratio = baseline / value for times, value / baseline for rates. */
function row(name: string, metric: string, value: number, unit: string, baseline: number, rate = false) {
  const ratio = rate ? value / baseline : baseline / value;
  rows.push({ name, metric, value: round(value), unit, baseline: round(baseline), ratio: round(ratio, 1) });
  log(
    `${name.padEnd(44)} ${metric.padEnd(16)} ${round(value).toString().padStart(10)} ${unit.padEnd(5)} scan ${round(baseline)} (×${round(ratio, 1)})`,
  );
}

const FLAVORS = [
  { vcpus: 1, memoryMiB: 512, diskGiB: 1 },
  { vcpus: 1, memoryMiB: 2048, diskGiB: 20 },
  { vcpus: 2, memoryMiB: 4096, diskGiB: 40 },
  { vcpus: 4, memoryMiB: 8192, diskGiB: 80 },
  { vcpus: 8, memoryMiB: 16384, diskGiB: 160 },
];
const SHAPES = [
  { vcpus: 32, memoryMiB: 131072, diskGiB: 2000 },
  { vcpus: 64, memoryMiB: 262144, diskGiB: 4000 },
  { vcpus: 16, memoryMiB: 65536, diskGiB: 1000 },
];

/** `n` hosts of three shapes in four zones (racks of 40); `fill` VMs of random flavors on random hosts. */
function cluster(n: number, rnd: Random, fill: number): HostView[] {
  const hosts: HostView[] = Array.from({ length: n }, (_, i) => ({
    id: `h${i}`,
    name: `host-${String(i).padStart(5, '0')}`,
    state: i % 97 === 0 ? 'maintenance' : 'up',
    capacity: SHAPES[i % 3]!,
    reserved: { vcpus: 1, memoryMiB: 2048, diskGiB: 0 },
    cpuRatio: 4,
    memoryRatio: 1,
    diskRatio: 1,
    used: { vcpus: 0, memoryMiB: 0, diskGiB: 0 },
    vmIds: [],
    zone: `z${i % 4}`,
    rack: `r${Math.floor(i / 40)}`,
  }));
  for (let v = 0; v < fill; v++) {
    const h = hosts[rnd.int(n)]!;
    const f = FLAVORS[rnd.int(FLAVORS.length)]!;
    if (h.used.memoryMiB + f.memoryMiB > h.capacity.memoryMiB - 2048) continue;
    h.used = {
      vcpus: h.used.vcpus + f.vcpus,
      memoryMiB: h.used.memoryMiB + f.memoryMiB,
      diskGiB: h.used.diskGiB + f.diskGiB,
    };
    h.vmIds = [...h.vmIds, `vm-${v}`];
  }
  return hosts;
}

const stats = (ms: number[]) => {
  const s = ms.slice().sort((a, b) => a - b);
  return {
    mean: s.reduce((a, b) => a + b, 0) / s.length,
    p99: s[Math.min(s.length - 1, Math.floor(s.length * 0.99))]!,
  };
};
function time(reps: number, f: (i: number) => void): { mean: number; p99: number } {
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    f(i);
    ms.push(performance.now() - t);
  }
  return stats(ms);
}

const attrs = (hs: readonly HostView[]) =>
  new Map(hs.map((h) => [h.id, { id: h.id, name: h.name, zone: h.zone, rack: h.rack }]));

/** Decisions on a cluster: plain scan and index, for each preset and constraint case. */
function decisions(n: number, fillPerHost: number, label: string) {
  const hosts = cluster(n, seededRandom(7), Math.round(n * fillPerHost));
  const index = new HostIndex(hosts);
  const all = attrs(hosts);
  // A server group with members on 5 hosts; placement as the scheduler passes it.
  const members = hosts.slice(0, 5).map((h, i) => ({ vm: `g-${i}`, host: h.id }));
  const placement = new Map(members.map((m) => [m.vm, [m.host]]));
  const cases: [string, PlacementRequest][] = [
    ['no constraints', {}],
    [
      'anti-affinity group',
      { group: { id: 'g', policy: 'anti-affinity', memberIds: members.map((m) => m.vm) }, placement },
    ],
    ['zone pin', { zone: 'z2', placement: new Map() }],
    [
      'soft anti-affinity group',
      { group: { id: 'g', policy: 'soft-anti-affinity', memberIds: members.map((m) => m.vm) }, placement },
    ],
  ].map(([k, r]) => [k as string, { flavor: FLAVORS[2]!, vmId: 'vm-new', ...(r as object) }]);
  const reps = quick ? 20 : n > 5000 ? 100 : 400;
  log(`\n${n} hosts, ${label}: ${index.classCount} classes`);
  for (const preset of ['pack', 'spread', 'first-fit'])
    for (const [k, req] of cases) {
      const scan = time(reps, () => placeVm(hosts, { ...req, hostAttributes: all }, preset));
      const idx = time(reps * 5, () => index.place(req, preset));
      const same =
        index.place(req, preset).hostId === placeVm(hosts, { ...req, hostAttributes: all }, preset).hostId;
      if (!same) throw new Error(`index and scan disagree: ${n} hosts, ${preset}, ${k}`);
      row(`decision ${n} hosts ${label} ${preset} ${k}`, 'mean', idx.mean, 'ms', scan.mean);
      row(`decision ${n} hosts ${label} ${preset} ${k}`, 'p99', idx.p99, 'ms', scan.p99);
    }
}

/** A batch of placements (decide, then count the VM on its host), plain scan against the index. */
function batch(n: number, vms: number) {
  const rnd = seededRandom(11);
  const flavors = Array.from({ length: vms }, () => FLAVORS[rnd.int(FLAVORS.length)]!);
  const add = (h: HostView, f: (typeof FLAVORS)[0]): HostView => ({
    ...h,
    used: {
      vcpus: h.used.vcpus + f.vcpus,
      memoryMiB: h.used.memoryMiB + f.memoryMiB,
      diskGiB: h.used.diskGiB + f.diskGiB,
    },
  });
  const run = (useIndex: boolean) => {
    const hosts = cluster(n, seededRandom(7), 0);
    const pos = new Map(hosts.map((h, i) => [h.id, i]));
    const index = new HostIndex(hosts);
    const chosen: (string | null)[] = [];
    const t = performance.now();
    for (const f of flavors) {
      const d = useIndex ? index.place({ flavor: f }, 'spread') : placeVm(hosts, { flavor: f }, 'spread');
      chosen.push(d.hostId);
      if (!d.hostId) continue;
      const i = pos.get(d.hostId)!;
      hosts[i] = add(hosts[i]!, f);
      if (useIndex) index.upsert(hosts[i]!);
    }
    return { perS: vms / ((performance.now() - t) / 1000), chosen };
  };
  const scan = run(false);
  const idx = run(true);
  if (scan.chosen.join() !== idx.chosen.join()) throw new Error(`batch: index and scan placed differently`);
  row(`batch ${vms} placements, ${n} hosts, spread`, 'placements/s', idx.perS, '1/s', scan.perS, true);
}

/** Scheduler.placeAndClaim in a ControlPlane on in-memory SQLite with `n` simulated hosts. */
async function controlPlane(n: number, vms: number) {
  const db = await openStore(':memory:');
  const clock = new SimClock(1_800_000_000);
  const sim = new SimHypervisorDriver(clock);
  const cp = new ControlPlane({ db, clock, hostDrivers: createHostDrivers({ sim }) });
  const admin = (await cp.authenticate((await cp.bootstrap('bench'))!))! as Principal;
  const t0 = performance.now();
  await seedDemo(cp, admin, n);
  log(`\ncontrol plane: ${n} simulated hosts created in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const rnd = seededRandom(3);
  const sizes = [
    { name: 'm1.small', vcpus: 1, memory_mib: 2048, disk_gib: 20 },
    { name: 'm1.medium', vcpus: 2, memory_mib: 4096, disk_gib: 40 },
    { name: 'm1.large', vcpus: 4, memory_mib: 8192, disk_gib: 80 },
  ];
  const flavors = Array.from({ length: vms }, () => sizes[rnd.int(sizes.length)]!);
  // `count` placements (each in its transaction, claims kept), then every claim given back: both
  // paths start from the same counters and must make the same choices.
  const run = async (useIndex: boolean, count: number) => {
    cp.scheduler.useIndex = useIndex;
    const ms: number[] = [];
    const placed: string[] = [];
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      const t = performance.now();
      await db.transaction().execute(async (trx) => {
        const r = await cp.scheduler.placeAndClaim(trx, {
          vm: { id: `bench-${i}`, name: `b${i}` },
          flavor: flavors[i]!,
          preset: i % 2 ? 'pack' : 'spread',
        });
        placed.push(r.hostId);
      });
      ms.push(performance.now() - t);
    }
    const perS = count / ((performance.now() - t0) / 1000);
    await db.transaction().execute(async (trx) => {
      for (const [i, h] of placed.entries()) await cp.claims.releaseHost(trx, h, flavors[i]!);
    });
    return { ...stats(ms), perS, placed };
  };
  // Warm both paths (statements, JIT, the index's first full read), then measure.
  await run(false, 10);
  await run(true, 10);
  // The scan costs a full read per decision: fewer of them at 10,000 hosts.
  const scan = await run(false, Math.min(vms, n > 5000 ? 50 : vms));
  const idx = await run(true, vms);
  if (scan.placed.join() !== idx.placed.slice(0, scan.placed.length).join())
    throw new Error('control plane: index and scan placed differently');
  const name = `Scheduler.placeAndClaim ${n} hosts (SQLite)`;
  row(name, 'mean', idx.mean, 'ms', scan.mean);
  row(name, 'p99', idx.p99, 'ms', scan.p99);
  row(name, 'placements/s', idx.perS, '1/s', scan.perS, true);
  if (MEASURED > 0) await withMeasured(cp, admin, n, flavors, run);
  await db.destroy();
}

/**
 * About `MEASURED` measured hosts (the first by name, filled first-fit with m1.xlarge VMs, each with a profile: a
 * 1 GiB working set and a fingerprint sharing an image segment with VMs of the same image), then
 * decisions alone and placeAndClaim, scan against index.
 */
async function withMeasured(
  cp: ControlPlane,
  admin: Principal,
  n: number,
  flavors: { name: string; vcpus: number; memory_mib: number; disk_gib: number }[],
  run: (
    useIndex: boolean,
    count: number,
  ) => Promise<{ mean: number; p99: number; perS: number; placed: string[] }>,
) {
  const db = cp.db;
  const t0 = performance.now();
  await cp.setQuotas(admin, admin.tenantId, { vms: 1e6, vcpus: 1e7, memoryMiB: 1e10, diskGiB: 1e8 });
  // First-fit fills hosts in name order: the hosts that got these VMs become the measured ones.
  const created: string[] = [];
  for (let i = 0; i < MEASURED * 7; i++) {
    const op = await cp.createVm(admin, {
      name: `m-${i}`,
      flavor: 'm1.xlarge',
      image: 'tiny',
      preset: 'first-fit',
    });
    created.push(op.vmId!);
  }
  const placedOn = await db.selectFrom('vms').select(['id', 'host_id']).where('id', 'in', created).execute();
  const hostIds = [...new Set(placedOn.map((v) => v.host_id!))];
  await db.updateTable('hosts').set({ memory_policy: 'measured' }).where('id', 'in', hostIds).execute();
  let vms = 0;
  for (const v of placedOn) {
    const fp = syntheticFingerprint({
      sampleBits: 6,
      zeroPages: 20_000,
      segments: [
        { seed: 1 + (vms % 3), pages: 64_000 },
        { seed: 1000 + vms, pages: 32_000 },
      ],
    });
    await cp.memoryProfiles.record(db, v.host_id!, [
      {
        vmId: v.id,
        profile: {
          at: '2027-01-15T08:00:00.000Z',
          memoryMiB: 16384,
          residentMiB: 1024,
          workingSetMiB: 1024,
          mergeable: true,
          fingerprint: fp,
        },
      },
    ]);
    vms++;
  }
  const onMeasured = await db.selectFrom('vms').select(['host_id']).where('name', 'like', 'm-%').execute();
  const spread = new Set(onMeasured.map((v) => v.host_id)).size;
  log(
    `\n${spread} measured hosts (${vms} VMs with profiles) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  // A new VM of the same image: its memory predicted from a running one (a fingerprint to score).
  const req = (i: number) => ({
    vm: { id: `bench-d${i}`, name: `d${i}`, fresh: true },
    flavor: flavors[i % flavors.length]!,
    preset: i % 2 ? 'pack' : 'spread',
    image: { imageId: '', tenantId: admin.tenantId },
  });
  const image = await db
    .selectFrom('images')
    .select('id')
    .where('name', '=', 'tiny')
    .executeTakeFirstOrThrow();
  const decide = async (useIndex: boolean, count: number) => {
    cp.scheduler.useIndex = useIndex;
    const ms: number[] = [];
    const chosen: (string | null)[] = [];
    for (let i = 0; i < count; i++) {
      const r = req(i);
      r.image.imageId = image.id;
      const t = performance.now();
      const { decision } = await cp.scheduler.decide(db, r, { fast: true });
      ms.push(performance.now() - t);
      chosen.push(decision.hostId);
    }
    return { ...stats(ms), chosen };
  };
  await decide(false, 3);
  await decide(true, 3);
  const count = quick ? 20 : n > 5000 ? 30 : 100;
  const dScan = await decide(false, count);
  const dIdx = await decide(true, count * 5);
  if (dScan.chosen.join() !== dIdx.chosen.slice(0, count).join())
    throw new Error('measured hosts: index and scan decided differently');
  const dName = `Scheduler.decide ${n} hosts, ${MEASURED} measured (SQLite)`;
  row(dName, 'mean', dIdx.mean, 'ms', dScan.mean);
  row(dName, 'p99', dIdx.p99, 'ms', dScan.p99);
  await run(false, 5);
  await run(true, 5);
  const scan = await run(false, count);
  const idx = await run(true, count * 5);
  if (scan.placed.join() !== idx.placed.slice(0, scan.placed.length).join())
    throw new Error('measured hosts: index and scan placed differently');
  const name = `Scheduler.placeAndClaim ${n} hosts, ${MEASURED} measured (SQLite)`;
  row(name, 'mean', idx.mean, 'ms', scan.mean);
  row(name, 'p99', idx.p99, 'ms', scan.p99);
  row(name, 'placements/s', idx.perS, '1/s', scan.perS, true);
}

for (const n of quick ? [1000] : [1000, 10000]) {
  decisions(n, 0, 'empty');
  decisions(n, 4, 'random fill');
}
batch(quick ? 1000 : 10000, quick ? 500 : 2000);
await controlPlane(quick ? 1000 : 10000, quick ? 100 : 1000);
if (json) console.log(JSON.stringify(rows));
