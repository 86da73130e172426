import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GuestMemoryProfile } from '../core/memory/profile.ts';
import { DEFAULT_CALIBRATION } from '../models/migration.ts';
import { PLAN_SCAN_MAX_MIB, plannedNonZeroMiB } from './plan-inputs.ts';

const profile = (pages: number, zeroPages: number): GuestMemoryProfile => ({
  at: '2026-12-01T00:00:00Z',
  memoryMiB: 1024,
  residentMiB: (pages * 4096) / 2 ** 20,
  workingSetMiB: 100,
  mergeable: true,
  fingerprint: { sampleBits: 12, pages, zeroPages, hashes: [], counts: [] },
});

function driver(p: (() => GuestMemoryProfile) | undefined, usedMiB = 100) {
  const calls: { sampleBits?: number }[] = [];
  return {
    calls,
    memoryProfile: async (_id: string, o: { sampleBits?: number } = {}) => {
      calls.push(o);
      if (!p) throw new Error('no scan');
      return p();
    },
    memoryStats: async () => ({ totalMiB: 1024, freeMiB: 1024 - usedMiB, availableMiB: 1024 - usedMiB }),
  } as unknown as Parameters<typeof plannedNonZeroMiB>[0] & { calls: { sampleBits?: number }[] };
}

test('plannedNonZeroMiB(): resident pages minus zero pages from a coarse scan', async () => {
  const d = driver(() => profile(51_200, 12_800)); // 200 MiB resident, 50 MiB of it zero
  assert.equal(await plannedNonZeroMiB(d, 'g', 1024), 150);
  assert.equal(d.calls[0]!.sampleBits, 12);
});

test('plannedNonZeroMiB(): falls back to the balloon floor when the scan fails or the guest is large', async () => {
  const floor = 1024 * DEFAULT_CALIBRATION.nonZeroShare;
  assert.equal(await plannedNonZeroMiB(driver(undefined, 100), 'g', 1024), Math.max(100, floor));
  assert.equal(await plannedNonZeroMiB(driver(undefined, 1000), 'g', 1024), 1000);
  const big = driver(() => profile(1, 0));
  const mem = PLAN_SCAN_MAX_MIB * 2;
  assert.equal(await plannedNonZeroMiB(big, 'g', mem), Math.max(100, mem * DEFAULT_CALIBRATION.nonZeroShare));
  assert.equal(big.calls.length, 0); // never scanned
});
