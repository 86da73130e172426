/**
 * One conformance suite for every HypervisorDriver (STYLE.md §7): the same behaviour, state
 * machine and errors from the simulated driver and the QEMU driver.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DriverError, GuestState, type GuestSpec, type HypervisorDriver } from '../src/core/hypervisor.ts';

export interface ConformanceHarness {
  name: string;
  /** Skip reason, when the driver cannot run here. */
  skip?: string;
  open(): Promise<HypervisorDriver>;
  spec(id: string): GuestSpec;
  /** Let (real or simulated) time pass. */
  wait(ms: number): Promise<void>;
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

async function eventually(h: ConformanceHarness, f: () => Promise<boolean>, ms = 20_000): Promise<void> {
  for (let waited = 0; waited <= ms; waited += 200) {
    if (await f()) return;
    await h.wait(200);
  }
  assert.fail('condition not reached in time');
}

export function hypervisorConformance(h: ConformanceHarness): void {
  const opts = h.skip ? { skip: h.skip } : {};

  test(`${h.name}: create validates the spec and refuses duplicates`, opts, async () => {
    const d = await h.open();
    try {
      const g = await d.create(h.spec('c1'));
      assert.equal(g.state, GuestState.shutoff);
      assert.deepEqual(
        (await d.list()).map((x) => x.id),
        ['c1'],
      );
      await rejectsWith(d.create(h.spec('c1')), 'ALREADY_EXISTS', /"c1" already exists/);
      await rejectsWith(
        d.create({ ...h.spec('bad id!'), memoryMiB: 10 }),
        'BAD_SPEC',
        /memoryMiB must be an integer >= 64/,
      );
      await rejectsWith(d.start('nope'), 'NOT_FOUND', /No guest "nope"/);
      await d.delete('c1');
      assert.equal(await d.get('c1'), undefined);
    } finally {
      await d.close();
      await h.cleanup?.();
    }
  });

  test(`${h.name}: lifecycle, snapshots, balloon and metrics follow one state machine`, opts, async () => {
    const d = await h.open();
    try {
      const spec = { ...h.spec('life'), minMemoryMiB: 96 };
      await d.create(spec);
      await rejectsWith(d.pause('life'), 'INVALID_STATE', /Cannot pause guest "life": it is shutoff/);
      await d.start('life');
      assert.equal((await d.get('life'))!.state, GuestState.running);
      await rejectsWith(d.start('life'), 'INVALID_STATE', /it is running/);
      await h.wait(1500);
      const m1 = await d.metrics('life');
      assert.equal(m1.memoryMiB, spec.memoryMiB);
      await h.wait(1000);
      const m2 = await d.metrics('life');
      assert.ok(m2.cpuTimeS > m1.cpuTimeS, `CPU time grows while running (${m1.cpuTimeS} → ${m2.cpuTimeS})`);

      await d.pause('life');
      assert.equal((await d.get('life'))!.state, GuestState.paused);
      await rejectsWith(d.pause('life'), 'INVALID_STATE', /it is paused/);
      await d.resume('life');
      assert.equal((await d.get('life'))!.state, GuestState.running);

      await d.snapshot('life', 'before');
      await rejectsWith(d.snapshot('life', 'bad name'), 'BAD_SPEC', /Bad snapshot name/);
      assert.deepEqual((await d.get('life'))!.snapshots, ['before']);
      await d.restore('life', 'before');
      assert.equal((await d.get('life'))!.state, GuestState.running);
      await rejectsWith(d.restore('life', 'never'), 'NOT_FOUND', /no snapshot "never"/);
      await d.snapshot('life', 'second');
      assert.deepEqual(await d.listSnapshots('life'), ['before', 'second']);
      await d.deleteSnapshot('life', 'before');
      assert.deepEqual(await d.listSnapshots('life'), ['second']);
      await rejectsWith(d.deleteSnapshot('life', 'before'), 'NOT_FOUND', /no snapshot "before"/);
      await rejectsWith(d.listSnapshots('nope'), 'NOT_FOUND');
      assert.equal((await d.get('life'))!.state, GuestState.running);

      await rejectsWith(d.setBalloon('life', 32), 'BAD_SPEC', /must be in 96\.\./);
      await d.setBalloon('life', 128);
      await eventually(h, async () => Math.abs((await d.metrics('life')).balloonMiB - 128) < 8);
      await d.setBalloon('life', spec.memoryMiB);
      await eventually(h, async () => Math.abs((await d.metrics('life')).balloonMiB - spec.memoryMiB) < 8);

      await d.reboot('life');
      assert.equal((await d.get('life'))!.state, GuestState.running);
      await d.stop('life', { timeoutMs: 10_000 });
      assert.equal((await d.get('life'))!.state, GuestState.shutoff);
      await rejectsWith(d.resume('life'), 'INVALID_STATE', /it is shutoff/);
      await d.delete('life');
      await rejectsWith(d.metrics('life'), 'NOT_FOUND');
    } finally {
      await d.close();
      await h.cleanup?.();
    }
  });
}
