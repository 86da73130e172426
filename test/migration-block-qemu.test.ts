/**
 * Live migration with disks on real QEMU (TCG): the guest's disk checker (guest/diskcheck.c, started
 * by nubis.diskcheck=/dev/vda) writes a known pattern to its root disk continuously and verifies every
 * block it wrote; the disk is mirrored over NBD while the guest writes, or shared, and the checker must
 * still find every block intact on the destination (or on the source after a failed move).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { GuestState } from '../src/core/hypervisor.ts';
import { migrate, MigrationError, type MigrationOptions } from '../src/drivers/qemu/migration.ts';
import { QemuDriver } from '../src/drivers/qemu/qemu-driver.ts';
import { HostPools } from '../src/drivers/qemu/storage-pools.ts';
import { diskSerial } from '../src/core/storage/host-storage.ts';
import { predictBlockMigration } from '../src/models/migration-disk.ts';
import { GUEST_DIR, tinyGuest, waitForSerial } from './helpers/guest.ts';

const g = tinyGuest();
const skip = typeof g === 'string' ? g : undefined;
const dirs: string[] = [];
after(() => {
  for (const d of dirs) spawnSync('pkill', ['-KILL', '-f', d]); // guests a failed test left (their paths hold these folders)
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The disk checker's progress in a serial log. */
function diskProgress(log: string): { hb: number; passes: number; written: number; bad: string[] } {
  let hb = 0,
    passes = 0,
    written = 0;
  const bad: string[] = [];
  for (const line of log.split('\n')) {
    const h = /^nubis-disk-hb (\d+)/.exec(line);
    if (h) hb = Number(h[1]);
    const p = /^nubis-disk-pass (\d+) ok (\d+) written (\d+)/.exec(line);
    if (p) [passes, written] = [Number(p[1]), Number(p[3])];
    if (line.startsWith('nubis-disk-bad')) bad.push(line.trim());
  }
  return { hb, passes, written, bad };
}

/**
 * Two hosts; `shared`: each sees the other's state folder (same filesystem), else nothing. Each has a
 * pool `local` (its own folder) and a pool `nas` (one folder for both).
 */
async function twoHosts(shared: boolean) {
  const a = mkdtempSync(join(tmpdir(), 'nubis-bm-a-')),
    b = mkdtempSync(join(tmpdir(), 'nubis-bm-b-'));
  dirs.push(a, b);
  const open = (s: string, other: string) =>
    QemuDriver.open({
      stateDir: s,
      accel: 'tcg',
      imageDirs: [GUEST_DIR],
      migrationSourceDirs: shared ? [other] : [],
      pools: new HostPools([
        { name: 'local', kind: 'local', dir: join(s, 'pool-local') },
        { name: 'nas', kind: 'shared', dir: join(a, 'pool-nas') },
      ]),
    });
  return [await open(a, b), await open(b, a)] as const;
}

async function cleanup(...ds: QemuDriver[]) {
  for (const d of ds) {
    for (const x of await d.list()) await d.delete(x.id).catch(() => undefined);
    await d.close();
  }
}

/**
 * A guest writing 256 blocks/s (1 MiB/s) over the first `mib` MiB of a root disk of `diskSize`, with
 * `prefillMiB` more allocated at 512 MiB.
 */
async function diskGuest(h: QemuDriver, id: string, diskSize: string, prefillMiB = 0, mib = 32) {
  const t = g as Exclude<typeof g, string>;
  await h.create({
    id,
    memoryMiB: 256,
    vcpus: 1,
    image: {
      kernel: t.kernel,
      initrd: t.initrd,
      append: `nubis.diskcheck=/dev/vda nubis.diskmib=${mib} nubis.diskrate=256`,
    },
    workload: { mib: 16, rateMiBps: 2 },
  });
  const disk = join(h.dir(id), 'disk.qcow2');
  execFileSync('qemu-img', ['resize', '-q', '-f', 'qcow2', disk, diskSize]);
  // Data the guest does not touch (past its checker's region), allocated: what a used disk holds.
  if (prefillMiB) execFileSync('qemu-io', ['-f', 'qcow2', '-c', `write -P 0x5a 512M ${prefillMiB}M`, disk]);
  await h.start(id);
  await waitForSerial(
    h.serialLog(id),
    (l) => diskProgress(l).passes >= 1 && diskProgress(l).written > 0,
    90_000,
  );
}

/** The checker's passes started after `log` and found every block it wrote intact. */
async function verifyDisk(h: QemuDriver, id: string, before: string) {
  const b = diskProgress(before);
  const log = await waitForSerial(
    h.serialLog(id),
    (l) => diskProgress(l).passes >= b.passes + 2 && diskProgress(l).hb > b.hb,
    90_000,
  );
  const a = diskProgress(log);
  assert.deepEqual(a.bad, [], 'every block the guest wrote holds its last version');
  assert.ok(a.written >= b.written && a.written > 0, `blocks written and verified: ${a.written}`);
  return a;
}

test(
  'a writing guest moves with its 1 GiB root disk mirrored live over NBD; every block verified',
  { skip },
  async () => {
    const [a, b] = await twoHosts(false);
    try {
      await diskGuest(a, 'bm', '1G', 256);
      const o: MigrationOptions = { mode: 'precopy', maxDowntimeMs: 300, timeoutMs: 180_000 };
      const before = readFileSync(a.serialLog('bm'), 'utf8');
      const r = await migrate(a, b, 'bm', o); // no disks option: the destination cannot see the disk → mirror
      assert.equal(r.status, 'completed');
      assert.equal(r.disks, 'mirror');
      assert.ok(r.diskBytes! >= 2 ** 30, `the whole disk was mirrored (${r.diskBytes} bytes)`);
      assert.equal(await a.get('bm'), undefined);
      assert.equal((await b.get('bm'))!.state, GuestState.running);
      await verifyDisk(b, 'bm', before);
      const written = diskProgress(before).written * 4096 + 256 * 2 ** 20;
      const p = predictBlockMigration(
        {
          memMiB: 256,
          usedMiB: 256 * 0.77,
          dirtyMiBps: r.dirtyRateMiBps,
          bandwidthMbps: 10_000,
          diskBytes: 2 ** 30,
          allocatedBytes: written,
          writeMiBps: 1,
        },
        { mode: 'precopy', maxDowntimeMs: 300 },
      );
      console.log(
        `# block migration, 1 GiB root disk (${(written / 2 ** 20).toFixed(0)} MiB allocated: 256 prefilled + what the guest wrote; rest sparse), TCG, loopback: ` +
          `measured mirror ${r.mirrorMs} ms + memory ${r.totalMs} ms, ${r.diskBytes} disk bytes, ${r.bytes} memory bytes; ` +
          `model (10 Gbit/s, 1 MiB/s of writes): mirror ${p.mirrorMs.toFixed(0)} ms, total ${p.totalMs.toFixed(0)} ms`,
      );
      // Back with post-copy, and out again with stop-and-copy: the mirror completes at either switch-over.
      for (const [from, to, mode] of [
        [b, a, 'postcopy'],
        [a, b, 'stop-and-copy'],
      ] as const) {
        const log = readFileSync(from.serialLog('bm'), 'utf8');
        const r2 = await migrate(from, to, 'bm', { mode, postcopyAfterMs: 0, timeoutMs: 180_000 });
        assert.equal(r2.disks, 'mirror');
        // A tiny guest's memory may all be copied before the switch to post-copy takes effect: both are
        // a post-copy migration that completed; what matters here is that the mirror completed with it.
        if (mode === 'postcopy')
          assert.match(
            r2.modeUsed ?? '',
            /^precopy(→postcopy| \(finished before the switch to post-copy\))$/,
          );
        await verifyDisk(to, 'bm', log);
      }
    } finally {
      await cleanup(a, b);
    }
  },
);

/** Kill the destination's QEMU for `id` once `when(source QMP)` holds; resolves with what it saw. */
function killDestinationWhen(
  src: QemuDriver,
  dst: QemuDriver,
  id: string,
  when: (jobs: { ready: boolean; offset: number }[], migration: string) => boolean,
): Promise<string> {
  return (async () => {
    const c = await src.client(id);
    for (let i = 0; i < 1200; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const jobs = await c.execute<{ ready: boolean; offset: number }[]>('query-block-jobs');
      const m = (await c.execute<{ status?: string }>('query-migrate')).status ?? 'none';
      const pid = dst.pid(id);
      if (pid && when(jobs, m)) {
        process.kill(pid, 'SIGKILL');
        return `jobs ${JSON.stringify(jobs.map((j) => ({ ready: j.ready, offset: j.offset })))}, migration ${m}`;
      }
    }
    return 'never';
  })();
}

/** The move failed, the guest runs on the source with no job or NBD node left, its disk intact. */
async function assertRolledBack(
  a: QemuDriver,
  b: QemuDriver,
  id: string,
  move: Promise<unknown>,
  before: string,
) {
  await assert.rejects(move, (e: unknown) => {
    assert.ok(e instanceof MigrationError);
    assert.match(e.message, /keeps running on the source/);
    assert.equal(e.report.disks, 'mirror');
    return true;
  });
  assert.equal((await a.get(id))!.state, GuestState.running);
  assert.equal(await b.get(id), undefined, 'nothing left on the destination');
  const c = await a.client(id);
  assert.deepEqual(await c.execute('query-block-jobs'), [], 'no mirror job left');
  assert.deepEqual(await c.execute('query-jobs'), [], 'no job left');
  const nodes = await c.execute<{ 'node-name': string }[]>('query-named-block-nodes');
  assert.ok(!nodes.some((n) => n['node-name'].startsWith('mig-nbd-')), 'no NBD client node left');
  await verifyDisk(a, id, before);
}

test(
  'the destination killed during the mirror: the guest keeps running on its source, disk intact',
  { skip },
  async () => {
    const [a, b] = await twoHosts(false);
    try {
      // 256 MiB of data at 40 Mbit/s: about a minute of mirror; killed once a part was copied.
      await diskGuest(a, 'bmk', '1G', 256);
      const before = readFileSync(a.serialLog('bmk'), 'utf8');
      const killed = killDestinationWhen(
        a,
        b,
        'bmk',
        (j) => j.length === 1 && !j[0]!.ready && j[0]!.offset > 0,
      );
      const move = migrate(a, b, 'bmk', {
        mode: 'precopy',
        bandwidthMbps: 40,
        timeoutMs: 120_000,
        disks: 'mirror',
      });
      await assertRolledBack(a, b, 'bmk', move, before);
      assert.match(await killed, /"ready":false.*migration none/, 'killed during the mirror phase');
    } finally {
      await cleanup(a, b);
    }
  },
);

test(
  'the destination killed while the memory moves after the mirror: the guest stays on its source, disk intact',
  { skip },
  async () => {
    const [a, b] = await twoHosts(false);
    try {
      await diskGuest(a, 'bmm', '64M');
      const before = readFileSync(a.serialLog('bmm'), 'utf8');
      // 256 MiB of memory at 20 Mbit/s: about a minute of memory phase after a quick mirror (64 MiB, sparse).
      const killed = killDestinationWhen(a, b, 'bmm', (j, m) => m === 'active' && j.every((x) => x.ready));
      const move = migrate(a, b, 'bmm', { mode: 'precopy', bandwidthMbps: 20, timeoutMs: 120_000 });
      await assertRolledBack(a, b, 'bmm', move, before);
      assert.match(await killed, /"ready":true.*migration active/, 'killed during the memory phase');
    } finally {
      await cleanup(a, b);
    }
  },
);

test(
  'with disks: shared only the memory moves (diskBytes 0); the disk is the same file',
  { skip },
  async () => {
    const [a, b] = await twoHosts(true);
    try {
      await diskGuest(a, 'bms', '64M');
      const before = readFileSync(a.serialLog('bms'), 'utf8');
      const r = await migrate(a, b, 'bms', { mode: 'precopy', maxDowntimeMs: 300, disks: 'shared' });
      assert.equal(r.status, 'completed');
      assert.equal(r.disks, 'shared');
      assert.equal(r.diskBytes, 0);
      await verifyDisk(b, 'bms', before);
    } finally {
      await cleanup(a, b);
    }
  },
);

test(
  'a guest writing to a volume in a local pool moves with it mirrored; every block of the volume verified',
  { skip },
  async () => {
    const [a, b] = await twoHosts(false);
    try {
      const t = g as Exclude<typeof g, string>;
      const local = { name: 'local', kind: 'local' } as const;
      const nas = { name: 'nas', kind: 'shared' } as const;
      await a.opts.pools!.create({ id: 'data-1', pool: local, sizeGiB: 1 });
      await a.opts.pools!.create({ id: 'data-2', pool: nas, sizeGiB: 1 });
      const disk = (volumeId: string, pool: typeof local | typeof nas) => ({
        volumeId,
        pool,
        sizeGiB: 1,
        serial: diskSerial(volumeId),
      });
      await a.create({
        id: 'bmv',
        memoryMiB: 256,
        vcpus: 1,
        image: {
          kernel: t.kernel,
          initrd: t.initrd,
          append: 'nubis.diskcheck=/dev/vdb nubis.diskmib=32 nubis.diskrate=256',
        },
        disks: [disk('data-1', local), disk('data-2', nas)],
      });
      await a.start('bmv');
      const before = await waitForSerial(
        a.serialLog('bmv'),
        (l) => diskProgress(l).passes >= 1 && diskProgress(l).written > 0,
        90_000,
      );
      const r = await migrate(a, b, 'bmv', { mode: 'precopy', maxDowntimeMs: 300, timeoutMs: 180_000 });
      assert.equal(r.status, 'completed');
      assert.equal(r.disks, 'mirror');
      assert.ok(r.diskBytes! >= 2 ** 30, `the local volume was mirrored whole (${r.diskBytes} bytes)`);
      assert.equal((await b.get('bmv'))!.state, GuestState.running);
      await verifyDisk(b, 'bmv', before);
      assert.ok(
        existsSync(b.opts.pools!.volumePath('local', 'data-1')),
        'the volume is in the destination pool',
      );
      assert.ok(!existsSync(a.opts.pools!.volumePath('local', 'data-1')), 'and gone from the source pool');
      assert.ok(existsSync(a.opts.pools!.volumePath('nas', 'data-2')), 'the shared volume stays where it is');
      console.log(
        `# block migration with a 1 GiB local volume (+ root disk; a shared volume not moved), TCG, loopback: ` +
          `mirror ${r.mirrorMs} ms + memory ${r.totalMs} ms, ${r.diskBytes} disk bytes`,
      );
    } finally {
      await cleanup(a, b);
    }
  },
);

test(
  'a failed move of a guest with a local volume leaves the volume on the source and none on the destination',
  { skip },
  async () => {
    const [a, b] = await twoHosts(false);
    try {
      const t = g as Exclude<typeof g, string>;
      const local = { name: 'local', kind: 'local' } as const;
      await a.opts.pools!.create({ id: 'data-3', pool: local, sizeGiB: 1 });
      await a.create({
        id: 'bmvk',
        memoryMiB: 256,
        vcpus: 1,
        image: {
          kernel: t.kernel,
          initrd: t.initrd,
          append: 'nubis.diskcheck=/dev/vdb nubis.diskmib=32 nubis.diskrate=256',
        },
        disks: [{ volumeId: 'data-3', pool: local, sizeGiB: 1, serial: 'data-3' }],
      });
      await a.start('bmvk');
      const before = await waitForSerial(
        a.serialLog('bmvk'),
        (l) => diskProgress(l).passes >= 1 && diskProgress(l).written > 0,
        90_000,
      );
      const killed = killDestinationWhen(a, b, 'bmvk', (j) => j.some((x) => !x.ready && x.offset > 0));
      const move = migrate(a, b, 'bmvk', { mode: 'precopy', bandwidthMbps: 40, timeoutMs: 120_000 });
      await assertRolledBack(a, b, 'bmvk', move, before);
      assert.notEqual(await killed, 'never');
      assert.ok(existsSync(a.opts.pools!.volumePath('local', 'data-3')), 'the volume stays on the source');
      assert.ok(!existsSync(b.opts.pools!.volumePath('local', 'data-3')), 'no copy left on the destination');
    } finally {
      await cleanup(a, b);
    }
  },
);
