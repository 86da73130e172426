/**
 * One conformance suite for every HostDriver (STYLE.md §7): live migration between two hosts of the
 * same kind, memory profiles and power control behave the same on simulated hosts and on real hosts through agents.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HostDriver, HostRef } from '../src/core/host-driver.ts';
import { DriverError, GuestState, type GuestSpec } from '../src/core/hypervisor.ts';
import { checkMemoryProfile } from '../src/core/memory/profile.ts';

export interface HostConformanceHarness {
  name: string;
  /** Skip reason, when the driver cannot run here. */
  skip?: string;
  /** Two hosts of the same kind, with their drivers (power control must succeed on both). */
  open(): Promise<{ a: HostDriver; b: HostDriver; aRef: HostRef; bRef: HostRef }>;
  spec(id: string): GuestSpec;
  cleanup?(): Promise<void>;
}

async function rejectsWith(p: Promise<unknown>, code: string, re?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof DriverError, `expected DriverError, got ${e}`);
    assert.equal(e.code, code);
    if (re) assert.match(e.message, re);
    return true;
  });
}

export function hostDriverConformance(h: HostConformanceHarness): void {
  const opts = h.skip ? { skip: h.skip } : {};

  test(`${h.name}: migrate moves a running guest to the other host, which then lists it`, opts, async () => {
    const { a, b, bRef } = await h.open();
    try {
      await a.create(h.spec('mig1'));
      await rejectsWith(a.migrate('mig1', bRef, { mode: 'precopy' }), 'INVALID_STATE', /it is shutoff/);
      assert.deepEqual(
        (await a.list()).map((g) => g.id),
        ['mig1'],
        'a refused migration leaves the guest where it was',
      );
      await a.start('mig1');
      await a.snapshot('mig1', 'before');
      const report = await a.migrate('mig1', bRef, { mode: 'precopy' });
      assert.equal(report.status, 'completed');
      assert.ok(typeof report.modeUsed === 'string' && report.modeUsed.length > 0);
      assert.deepEqual(
        (await a.list()).map((g) => g.id),
        [],
      );
      assert.equal(await a.get('mig1'), undefined);
      const there = await b.get('mig1');
      assert.equal(there?.state, GuestState.running);
      assert.deepEqual(await b.listSnapshots('mig1'), ['before'], 'snapshots travel with the guest');
      await rejectsWith(a.migrate('nope', bRef, {}), 'NOT_FOUND');
      await b.delete('mig1');
      assert.deepEqual(await b.list(), []);
    } finally {
      await a.close();
      await b.close();
      await h.cleanup?.();
    }
  });

  test(
    `${h.name}: memoryProfile measures a running guest (valid profile, requested sampling)`,
    opts,
    async () => {
      const { a, b } = await h.open();
      try {
        assert.ok(a.memoryProfile, 'the driver reports memory profiles');
        await a.create(h.spec('prof1'));
        await rejectsWith(a.memoryProfile('prof1'), 'INVALID_STATE', /it is shutoff/);
        await rejectsWith(a.memoryProfile('nope'), 'NOT_FOUND');
        await a.start('prof1');
        const p = await a.memoryProfile('prof1', { sampleBits: 8 });
        assert.deepEqual(checkMemoryProfile(p), []);
        assert.equal(p.memoryMiB, h.spec('prof1').memoryMiB);
        assert.equal(p.fingerprint?.sampleBits, 8);
        assert.ok(p.residentMiB > 0 && p.residentMiB <= p.memoryMiB);
        assert.ok(p.workingSetMiB > 0 && p.workingSetMiB <= p.memoryMiB);
        assert.equal(p.mergeable, true);
        await a.delete('prof1');
      } finally {
        await a.close();
        await b.close();
        await h.cleanup?.();
      }
    },
  );

  test(`${h.name}: power runs the host's power control and reports its outcome`, opts, async () => {
    const { a, b, aRef, bRef } = await h.open();
    try {
      const off = await b.power('off', bRef);
      assert.equal(off.exitCode, 0);
      const on = await a.power('on', bRef);
      assert.equal(on.exitCode, 0);
      assert.ok(Array.isArray(await b.list()), 'the host answers again once it is on');
      assert.equal(aRef.driver, bRef.driver);
    } finally {
      await a.close();
      await b.close();
      await h.cleanup?.();
    }
  });
}
