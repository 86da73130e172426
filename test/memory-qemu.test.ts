import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { MemoryManager } from '../src/agent/memory-manager.ts';
import { readKsm, setKsm } from '../src/drivers/ksm.ts';
import { QemuDriver } from '../src/drivers/qemu/qemu-driver.ts';
import { guestProgress, GUEST_DIR, tinyGuest, waitForSerial } from './helpers/guest.ts';

const g = tinyGuest();
const skip = typeof g === 'string' ? g : undefined;
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function host() {
  const d = mkdtempSync(join(tmpdir(), 'nubis-mem-'));
  dirs.push(d);
  return QemuDriver.open({ stateDir: d, accel: 'tcg', imageDirs: [GUEST_DIR] });
}
const spec = (id: string, extra: Record<string, unknown> = {}) => {
  const t = g as Exclude<typeof g, string>;
  return {
    id,
    memoryMiB: 384,
    vcpus: 1,
    image: { kernel: t.kernel, initrd: t.initrd },
    workload: { mib: 64, rateMiBps: 0 },
    minMemoryMiB: 160,
    ...extra,
  };
};

test(
  "the balloon policy reclaims guest memory under host pressure, respects the guest's use, and gives it back",
  { skip },
  async () => {
    const d = await host();
    let free = 0.05;
    const mm = new MemoryManager(d, {
      manageKsm: false,
      host: () => ({ totalMiB: 4096, freeMiB: 4096 * free }),
    });
    try {
      await d.create(spec('bal'));
      await d.start('bal');
      await waitForSerial(d.serialLog('bal'), (l) => guestProgress(l).passes >= 1);
      // Wait for the guest's first balloon statistics.
      for (let i = 0; i < 40 && !(await d.memoryStats('bal')); i++) await sleep(250);
      const stats = await d.memoryStats('bal');
      assert.ok(stats && stats.totalMiB > 300, 'the guest reports its memory');
      let last = 384;
      for (let round = 0; round < 12; round++) {
        const r = await mm.round();
        if (r.balloon.length === 0) break;
        last = r.balloon[0]!.toMiB;
        assert.match(r.balloon[0]!.reason, /reclaim/);
        await sleep(800);
      }
      const used = stats!.totalMiB - stats!.availableMiB;
      assert.ok(last < 384, 'memory was reclaimed');
      assert.ok(
        last >= Math.max(160, used + 64) - 1,
        `never below max(guarantee, used + headroom): ${last} MiB, used ${used.toFixed(0)} MiB`,
      );
      let m = await d.metrics('bal');
      for (let i = 0; i < 30 && Math.abs(m.balloonMiB - last) > 8; i++) {
        await sleep(200);
        m = await d.metrics('bal');
      }
      assert.ok(
        Math.abs(m.balloonMiB - last) <= 8,
        `the guest shrank to ${m.balloonMiB} MiB (target ${last})`,
      );
      // The guest's workload still runs and its memory is intact.
      const hb = guestProgress(await waitForSerial(d.serialLog('bal'), () => true)).heartbeat;
      const log = await waitForSerial(d.serialLog('bal'), (l) => guestProgress(l).heartbeat > hb + 1);
      assert.deepEqual(guestProgress(log).bad, []);
      free = 0.6; // pressure gone
      const back = await mm.round();
      assert.ok(back.balloon[0]!.toMiB > last && /give back/.test(back.balloon[0]!.reason));
    } finally {
      for (const x of await d.list()) await d.delete(x.id);
      await d.close();
    }
  },
);

test(
  'KSM merges identical guest pages, but not from guests that opt out of sharing',
  { skip: skip ?? (readKsm().available ? undefined : 'no KSM on this kernel') },
  async () => {
    const saved = readKsm();
    const d = await host();
    const sharingAfter = async (mergeable: boolean) => {
      setKsm(false);
      await sleep(300);
      for (const id of ['k1', 'k2']) {
        await d.create(spec(`${id}-${mergeable}`, { mergeable }));
        await d.start(`${id}-${mergeable}`);
      }
      for (const id of ['k1', 'k2'])
        await waitForSerial(d.serialLog(`${id}-${mergeable}`), (l) => guestProgress(l).passes >= 1);
      // Pages KSM merged in these two guests' QEMU processes (per process, Linux 5.19+): other
      // guests on the machine, and their pages unmerged meanwhile, do not count.
      const merged = () =>
        ['k1', 'k2'].reduce(
          (n, id) =>
            n + Number(readFileSync(`/proc/${d.pid(`${id}-${mergeable}`)}/ksm_merging_pages`, 'utf8')),
          0,
        );
      setKsm(true, { pagesToScan: 20000, sleepMs: 10 });
      let s = merged();
      for (let i = 0; i < 60; i++) {
        await sleep(250);
        s = merged();
        if (mergeable && s > 8192) break;
      }
      if (!mergeable) {
        await sleep(3000);
        s = merged();
      }
      setKsm(false);
      for (const id of ['k1', 'k2']) await d.delete(`${id}-${mergeable}`);
      return s;
    };
    try {
      const shared = await sharingAfter(true);
      assert.ok(shared > 8192, `two guests with the same 64 MiB of data share pages (${shared} pages)`);
      const optedOut = await sharingAfter(false);
      assert.ok(optedOut < 256, `guests that opt out share nothing (${optedOut} pages)`);
    } finally {
      setKsm(saved.run, { pagesToScan: saved.pagesToScan, sleepMs: saved.sleepMs });
      for (const x of await d.list()) await d.delete(x.id);
      await d.close();
    }
  },
);
