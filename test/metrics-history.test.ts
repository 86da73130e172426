// The string-level history updates of metrics reports give the same text as parsing, prepending,
// slicing and stringifying (what they replaced), on random histories.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { firstSample, prependSample } from '../src/control/telemetry/metrics.ts';

const sample = fc.oneof(
  fc.double({ min: 0, max: 1, noNaN: true }),
  fc.integer({ min: 0, max: 2_000_000_000 }),
  fc.constant(Number.NaN),
  fc.constant(1e-7),
);

test('prependSample equals JSON.stringify([x, ...JSON.parse(h)].slice(0, keep))', () => {
  fc.assert(
    fc.property(
      fc.array(sample, { maxLength: 40 }),
      sample,
      fc.integer({ min: 1, max: 45 }),
      (h, x, keep) => {
        const stored = JSON.stringify(h);
        const plain = JSON.stringify([x, ...(JSON.parse(stored) as number[])].slice(0, keep));
        assert.equal(prependSample(stored, x, keep), plain);
      },
    ),
    { numRuns: 2000 },
  );
});

test('firstSample equals JSON.parse(h)[0] ?? undefined', () => {
  fc.assert(
    fc.property(fc.array(sample, { maxLength: 10 }), (h) => {
      const stored = JSON.stringify(h);
      assert.equal(firstSample(stored), (JSON.parse(stored) as (number | null)[])[0] ?? undefined);
    }),
    { numRuns: 2000 },
  );
});
