import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { lowerBound } from '../../policies/bounds/bounds.ts';
import { randomInstance } from '../../policies/bounds/instances.ts';
import type { PackInstance } from '../../policies/optimize/instance.ts';
import { optimize } from '../../policies/optimize/optimize.ts';
import { placementValid } from '../../policies/optimize/warm-start.ts';
import { seededRandom } from '../../runtime/random.ts';
import { buildMilpModel } from '../../policies/optimize/milp-model.ts';
import { highsPool } from './highs-pool.ts';
import { highsSolver } from './highs-solver.ts';

const solver = highsSolver();

/** Host index per VM of a result's placement. */
const indices = (inst: PackInstance, placement: ReadonlyMap<string, string>) => {
  const index = new Map(inst.hosts.map((h, i) => [h.id, i]));
  return inst.vms.map((v) => index.get(placement.get(v.id)!)!);
};

describe('optimize({ strategy: "lns" }) with HiGHS', () => {
  // 60 VMs on a random start: the current placement spreads them over most hosts.
  const inst = randomInstance({ vms: 60, seed: 3, shape: 'uniform', start: true, hostTypes: 1 });
  const current = new Map(inst.vms.map((v) => [v.id, v.hostId!]));
  const run = () =>
    optimize(inst, solver, {
      strategy: 'lns',
      start: current,
      maxRounds: 6,
      maxNodes: 200,
      random: seededRandom(8),
    });

  it('improves a spread-out start with exact sub-problems, keeps it valid, and bounds it with L1/L2 and the LP', async () => {
    const before = new Set(current.values()).size;
    const r = await run();
    assert.ok(r.incumbent);
    assert.ok(placementValid(inst, indices(inst, r.incumbent.placement)));
    assert.ok(r.incumbent.hostsUsed < before, `${r.incumbent.hostsUsed} < ${before}`);
    assert.equal(r.source, 'solver');
    assert.ok(r.bound >= lowerBound(inst).hosts - 1e-9);
    assert.ok(r.bound <= r.objective! + 1e-9);
    assert.ok(
      r.notes?.some((n) => n.includes('LP relaxation')),
      String(r.notes),
    );
  });

  it('gives the same placement for the same seed, round and node limits', async () => {
    const [a, b] = [await run(), await run()];
    assert.deepEqual([...a.incumbent!.placement], [...b.incumbent!.placement]);
  });
});

describe('highsPool()', () => {
  it('answers as a fresh worker per solve does, over more jobs than workers, and closes', async () => {
    const pool = highsPool({ size: 2 });
    const models = [0, 1, 2, 3, 4, 5].map((k) =>
      buildMilpModel(randomInstance({ vms: 4 + k, seed: k, shape: 'uniform', start: true, hostTypes: 1 })),
    );
    const got = await Promise.all(models.map((m) => pool.solve(m, { timeLimitS: 30 })));
    const want = await Promise.all(models.map((m) => solver.solve(m, { timeLimitS: 30 })));
    got.forEach((r, k) => {
      assert.equal(r.status, want[k]!.status);
      assert.ok(Math.abs(r.objective! - want[k]!.objective!) < 1e-6);
    });
    await pool.close();
  });

  it('returns at once, interrupted, for a solve cancelled before it starts', async () => {
    const pool = highsPool({ size: 1, graceS: 0.2 });
    const m = buildMilpModel(randomInstance({ vms: 30, seed: 2, shape: 'uniform', start: true }));
    const r = await pool.solve(m, { timeLimitS: 30, signal: AbortSignal.abort() });
    assert.ok(r.status === 'interrupted' || r.status === 'optimal', r.status);
    await pool.close();
  });
});
