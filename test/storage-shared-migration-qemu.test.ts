/**
 * A guest with a volume in a shared pool migrates live between two hosts (two QEMU drivers on this
 * machine that see one pool folder): only memory moves, the destination opens the same volume on the
 * same PCIe port, and the data the guest wrote before the move is there after it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { GuestState } from '../src/core/hypervisor.ts';
import { diskSerial } from '../src/core/storage/host-storage.ts';
import { migrate } from '../src/drivers/qemu/migration.ts';
import { QemuDriver } from '../src/drivers/qemu/qemu-driver.ts';
import { openSerialConsole } from '../src/drivers/qemu/serial-console.ts';
import { HostPools } from '../src/drivers/qemu/storage-pools.ts';
import { GUEST_DIR, tinyGuest, waitForSerial } from './helpers/guest.ts';

const g = tinyGuest();
const skip =
  typeof g === 'string'
    ? g
    : existsSync(join(GUEST_DIR, 'modules', 'virtio_blk.ko'))
      ? undefined
      : `the tiny guest in ${GUEST_DIR} has no virtio_blk (rebuild it: bash scripts/build-guest.sh)`;
const root = mkdtempSync(join(tmpdir(), 'nubis-shared-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** Type a command into a guest's console shell; resolves with the log once `marker` shows. */
async function shell(d: QemuDriver, id: string, cmd: string, marker: RegExp): Promise<string> {
  const con = await openSerialConsole(id, d.dir(id));
  try {
    con.write('\n');
    await new Promise((r) => setTimeout(r, 500));
    con.write(`${cmd}\n`);
    return await waitForSerial(d.serialLog(id), (l) => marker.test(l), 120_000);
  } finally {
    con.close();
  }
}

test(
  'a guest with a shared-pool volume migrates and its data is there after the move',
  { skip },
  async () => {
    const t = g as Exclude<typeof g, string>;
    const nas = { name: 'nas', kind: 'shared' as const };
    const host = (n: string) =>
      QemuDriver.open({
        stateDir: join(root, n),
        accel: 'tcg',
        imageDirs: [GUEST_DIR],
        pools: new HostPools([{ ...nas, dir: join(root, 'nas') }]),
      });
    const a = await host('a'),
      b = await host('b');
    try {
      await a.opts.pools!.create({ id: 'shared-1', pool: nas, sizeGiB: 1 });
      await a.create({
        id: 'mv',
        memoryMiB: 192,
        vcpus: 1,
        image: { kernel: t.kernel, initrd: t.initrd },
        workload: { mib: 4, rateMiBps: 0 },
        disks: [{ volumeId: 'shared-1', pool: nas, sizeGiB: 1, serial: diskSerial('shared-1') }],
      });
      await a.start('mv');
      await waitForSerial(a.serialLog('mv'), (l) => /nubis-disk-add vdb shared-1/.test(l), 180_000);
      await shell(
        a,
        'mv',
        'echo nubis-shared-5c1e | dd of=/dev/vdb bs=512 conv=sync,fsync 2>/dev/null && echo shared-written',
        /^shared-written/m,
      );
      const r = await migrate(a, b, 'mv', { mode: 'precopy', maxDowntimeMs: 300 });
      assert.equal(r.status, 'completed');
      assert.equal((await b.get('mv'))!.state, GuestState.running);
      assert.deepEqual(
        (await b.get('mv'))!.spec.disks!.map((d) => d.volumeId),
        ['shared-1'],
      );
      // Read from the disk, not from the page cache that moved with the guest's memory; then write.
      const out = await shell(
        b,
        'mv',
        'echo 3 > /proc/sys/vm/drop_caches; echo got-$(head -c 17 /dev/vdb)-end; echo nubis-after-move | dd of=/dev/vdb bs=512 seek=1 conv=sync,fsync 2>/dev/null && echo after-written',
        /^after-written/m,
      );
      assert.match(out, /got-nubis-shared-5c1e-end/);
      await b.stop('mv', { force: true });
      // The destination's QEMU wrote to the one shared file.
      const raw = join(root, 'head.raw');
      execFileSync('qemu-img', [
        'dd',
        '-f',
        'qcow2',
        '-O',
        'raw',
        'bs=512',
        'count=2',
        `if=${join(root, 'nas', 'shared-1.qcow2')}`,
        `of=${raw}`,
      ]);
      const head = readFileSync(raw, 'latin1');
      assert.ok(head.startsWith('nubis-shared-5c1e\n'), JSON.stringify(head.slice(0, 40)));
      assert.equal(head.slice(512, 529), 'nubis-after-move\n');
    } finally {
      for (const d of [a, b]) {
        for (const x of await d.list()) await d.delete(x.id).catch(() => undefined);
        await d.close();
      }
    }
  },
);
