import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GuestState } from '../core/hypervisor.ts';
import type { QemuDriver } from '../drivers/qemu/qemu-driver.ts';
import { MemoryManager } from './memory-manager.ts';

/** A driver with one running guest whose balloon the manager moves (only what the manager calls). */
function fakeDriver(balloon: { mib: number }) {
  const driver = {
    list: async () => [{ id: 'g1', state: GuestState.running, spec: { memoryMiB: 1024, minMemoryMiB: 256 } }],
    metrics: async () => ({ balloonMiB: balloon.mib }),
    memoryStats: async () => ({ totalMiB: balloon.mib, availableMiB: balloon.mib - 300, freeMiB: 0 }),
    setBalloon: async (_id: string, mib: number) => {
      balloon.mib = mib;
    },
  };
  return driver as unknown as QemuDriver;
}

test("the agent's memory loop gives memory back only up to the control plane's target", async () => {
  const balloon = { mib: 400 };
  const relaxed = () => ({ totalMiB: 4096, freeMiB: 3000 });
  const m = new MemoryManager(fakeDriver(balloon), { manageKsm: false, host: relaxed });
  m.setTarget('g1', 500);
  for (let i = 0; i < 20; i++) await m.round();
  assert.equal(balloon.mib, 500);
  // Without a target it goes back to the flavor's size.
  m.setTarget('g1', undefined);
  for (let i = 0; i < 40; i++) await m.round();
  assert.equal(balloon.mib, 1024);
});
