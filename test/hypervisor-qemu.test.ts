import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QemuDriver } from '../src/drivers/qemu/qemu-driver.ts';
import { GUEST_DIR, tinyGuest } from './helpers/guest.ts';
import { hypervisorConformance } from './hypervisor-conformance.ts';

const g = tinyGuest();
let dir = '';
hypervisorConformance({
  name: 'QemuDriver (TCG)',
  skip: typeof g === 'string' ? g : undefined,
  open: async () => {
    dir = mkdtempSync(join(tmpdir(), 'nubis-qemu-'));
    return QemuDriver.open({ stateDir: dir, accel: 'tcg', imageDirs: [GUEST_DIR] });
  },
  spec: (id) => {
    const t = g as Exclude<typeof g, string>;
    return {
      id,
      memoryMiB: 256,
      vcpus: 1,
      image: { kernel: t.kernel, initrd: t.initrd },
      workload: { mib: 16, rateMiBps: 0 },
    };
  },
  wait: (ms) => new Promise((r) => setTimeout(r, ms)),
  cleanup: async () => {
    rmSync(dir, { recursive: true, force: true });
  },
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { probeAccel } from '../src/drivers/qemu/qemu-driver.ts';

test(
  'the KVM probe decides by booting a guest, says why, and caches its verdict',
  { skip: typeof g === 'string' ? g : undefined },
  async () => {
    const t = g as Exclude<typeof g, string>;
    const d = mkdtempSync(join(tmpdir(), 'nubis-probe-'));
    try {
      const r = await probeAccel({ stateDir: d, probeImage: t, probeTimeoutMs: 8000 });
      assert.ok(r.accel === 'kvm' || r.accel === 'tcg');
      assert.ok(r.reason.length > 10, r.reason);
      if (r.accel === 'kvm') assert.match(r.reason, /booted and ran under KVM/);
      else assert.match(r.reason, /\/dev\/kvm does not exist|KVM probe guest (exited|did not come up)/);
      // Cached: a second call answers at once with the same verdict.
      assert.deepEqual(await probeAccel({ stateDir: d, probeImage: t }), r);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  },
);

test(
  "a guest can boot from a user's qcow2 disk image (no kernel given)",
  { skip: typeof g === 'string' ? g : undefined },
  async () => {
    const d = mkdtempSync(join(tmpdir(), 'nubis-disk-'));
    const drv = await QemuDriver.open({ stateDir: d, accel: 'tcg', imageDirs: [GUEST_DIR, d] });
    try {
      const { execFileSync } = await import('node:child_process');
      const img = join(d, 'user.qcow2');
      execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', img, '32M']);
      await assert.rejects(
        drv.create({ id: 'nodisk', memoryMiB: 128, vcpus: 1, image: {} }),
        /needs a kernel \(direct boot\), a bootable qcow2 disk or a registry image/,
      );
      await drv.create({ id: 'disk', memoryMiB: 128, vcpus: 1, image: { disk: img } });
      await drv.start('disk');
      assert.equal((await drv.get('disk'))!.state, 'running');
      assert.match(readFileSync(`/proc/${drv.pid('disk')}/cmdline`, 'utf8'), /-boot\0c/);
    } finally {
      for (const x of await drv.list()) await drv.delete(x.id);
      await drv.close();
      rmSync(d, { recursive: true, force: true });
    }
  },
);

test(
  "a guest's state read while it starts (an agent's heartbeat) shares the start's QMP connection",
  { skip: typeof g === 'string' ? g : undefined },
  async () => {
    const t = g as Exclude<typeof g, string>;
    const d = mkdtempSync(join(tmpdir(), 'nubis-qmp-race-'));
    const drv = await QemuDriver.open({ stateDir: d, accel: 'tcg', imageDirs: [GUEST_DIR] });
    try {
      await drv.create({
        id: 'race',
        memoryMiB: 128,
        vcpus: 1,
        image: { kernel: t.kernel, initrd: t.initrd },
      });
      const start = drv.start('race');
      // QEMU's monitor serves one client: a second connection of its own would never get a greeting.
      const reads: Promise<unknown>[] = [];
      for (let i = 0; i < 40 && drv.pid('race') === undefined; i++)
        await new Promise((r) => setTimeout(r, 25));
      for (let i = 0; i < 3; i++) reads.push(drv.client('race'));
      await start;
      const clients = await Promise.all(reads);
      assert.equal(new Set([...clients, await drv.client('race')]).size, 1, 'one QMP connection');
      assert.equal((await drv.get('race'))!.state, 'running');
    } finally {
      for (const x of await drv.list()) await drv.delete(x.id);
      await drv.close();
      rmSync(d, { recursive: true, force: true });
    }
  },
);
