import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { HP_PROLIANT_ML110_G4 } from '../../models/power.ts';
import { seededRandom } from '../../runtime/random.ts';
import { HEURISTICS, hostLowerBound, placeVectors, type Heuristic } from './heuristics.ts';

const caps = [
  [4, 8],
  [4, 8],
  [4, 8],
];

test('first fit fills host 0 first; worst fit spreads; best fit packs the fullest host', () => {
  const demands = [
    [1, 1],
    [1, 1],
    [2, 2],
  ];
  assert.deepEqual([...placeVectors({ capacities: caps, demands }, 'first-fit').assignment], [0, 0, 0]);
  assert.deepEqual([...placeVectors({ capacities: caps, demands }, 'worst-fit').assignment], [0, 1, 2]);
  // best fit: host 0 used by the first item is fuller than the empty ones
  assert.deepEqual([...placeVectors({ capacities: caps, demands }, 'best-fit').assignment], [0, 0, 0]);
});

test('next fit never goes back to an earlier host', () => {
  // [3] on h0, [3] does not fit h0 → h1, [1] fits h0 but next fit stays on h1
  const r = placeVectors({ capacities: [[4], [4]], demands: [[3], [3], [1]] }, 'next-fit');
  assert.deepEqual([...r.assignment], [0, 1, 1]);
});

test('first-fit decreasing needs fewer hosts than first fit on a classic bad order', () => {
  // sizes 1 1 1 3 3 3 on bins of 4: FF uses 4 (1+1+1, 3, 3, 3); FFD pairs 3+1 → 3 hosts
  const inst = { capacities: [[4], [4], [4], [4]], demands: [[1], [1], [1], [3], [3], [3]] };
  assert.equal(placeVectors(inst, 'first-fit').hostsUsed, 4);
  const ffd = placeVectors(inst, 'first-fit-decreasing');
  assert.equal(ffd.hostsUsed, 3);
  assert.equal(ffd.lowerBound, 3); // ceil(12 / 4)
  assert.equal(ffd.gap, 0);
});

test('an item that fits nowhere is reported with the reason per host', () => {
  const r = placeVectors(
    {
      capacities: [
        [4, 2],
        [2, 8],
      ],
      demands: [[3, 3]],
      dimensions: ['cpu', 'memory'],
    },
    'best-fit-decreasing',
  );
  assert.equal(r.assignment[0], -1);
  assert.deepEqual(r.unplaced[0]!.reasons, [
    { host: 0, dimension: 'memory', needed: 3, free: 2 },
    { host: 1, dimension: 'cpu', needed: 3, free: 2 },
  ]);
});

test('bad input is a RangeError that says what is wrong', () => {
  assert.throws(
    () => placeVectors({ capacities: [[1, 2]], demands: [[1]] }, 'first-fit'),
    /demands\[0\] has 1 dimensions, expected 2/,
  );
  assert.throws(() => placeVectors({ capacities: [[1]], demands: [[-1]] }, 'first-fit'), />= 0/);
  assert.throws(() => placeVectors({ capacities: [[1]], demands: [[1]] }, 'random-fit'), /seeded random/);
});

test('hostLowerBound() is the per-dimension sum bound over the largest hosts', () => {
  // memory: 20 needed, largest hosts 8 + 8 + 4 → 3 hosts; cpu: 5 needed → 2 hosts
  assert.equal(
    hostLowerBound({
      capacities: [
        [4, 8],
        [4, 8],
        [4, 4],
      ],
      demands: [
        [2, 10],
        [3, 10],
      ],
    }),
    3,
  );
});

test('property: no heuristic exceeds a host capacity in any dimension, every item placed at most once, and hosts ≥ lower bound', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.integer({ min: 1, max: 16 }),
          fc.integer({ min: 1, max: 64 }),
          fc.integer({ min: 1, max: 10 }),
        ),
        { minLength: 1, maxLength: 10 },
      ),
      fc.array(
        fc.tuple(
          fc.integer({ min: 0, max: 8 }),
          fc.integer({ min: 0, max: 32 }),
          fc.integer({ min: 0, max: 5 }),
        ),
        { minLength: 0, maxLength: 40 },
      ),
      fc.constantFrom<Heuristic>(...HEURISTICS),
      (capacities, demands, h) => {
        const power = { models: capacities.map(() => HP_PROLIANT_ML110_G4), cpuDimension: 0 };
        const r = placeVectors({ capacities, demands }, h, { random: seededRandom(1), power });
        const used = capacities.map((c) => c.map(() => 0));
        r.assignment.forEach((host, i) => {
          if (host >= 0)
            demands[i]!.forEach((x, d) => {
              used[host]![d]! += x;
            });
        });
        used.forEach((u, host) =>
          u.forEach((x, d) => assert.ok(x <= capacities[host]![d]!, `${h}: host ${host} dim ${d}`)),
        );
        assert.equal(r.unplaced.length, [...r.assignment].filter((a) => a < 0).length);
        if (r.unplaced.length === 0) assert.ok(r.hostsUsed >= r.lowerBound);
      },
    ),
    { numRuns: 300, seed: 7 },
  );
});
