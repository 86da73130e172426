import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QemuDriver } from '../src/drivers/qemu/qemu-driver.ts';
import { tinyGuest } from './helpers/guest.ts';
import { hypervisorConformance } from './hypervisor-conformance.ts';

const g = tinyGuest();
let dir = '';
hypervisorConformance({
  name: 'QemuDriver (TCG)',
  skip: typeof g === 'string' ? g : undefined,
  open: async () => {
    dir = mkdtempSync(join(tmpdir(), 'nubis-qemu-'));
    return QemuDriver.open({ stateDir: dir, accel: 'tcg' });
  },
  spec: (id) => {
    const t = g as Exclude<typeof g, string>;
    return { id, memoryMiB: 256, vcpus: 1, image: { kernel: t.kernel, initrd: t.initrd }, workload: { mib: 16, rateMiBps: 0 } };
  },
  wait: (ms) => new Promise((r) => setTimeout(r, ms)),
  cleanup: async () => { rmSync(dir, { recursive: true, force: true }); },
});
