import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { CONSOLE_LOG_DEFAULT_BYTES, CONSOLE_LOG_MAX_BYTES, consoleTailBytes } from './console.ts';

test('consoleTailBytes() gives the default without a tail and for a tail that is not a number', () => {
  assert.equal(consoleTailBytes(), CONSOLE_LOG_DEFAULT_BYTES);
  assert.equal(consoleTailBytes({ tailBytes: Number.NaN }), CONSOLE_LOG_DEFAULT_BYTES);
  assert.equal(consoleTailBytes({ tailBytes: Infinity }), CONSOLE_LOG_DEFAULT_BYTES);
});

test('consoleTailBytes() is always a whole number in 1..1 MiB, and keeps any tail already in range', () => {
  fc.assert(
    fc.property(fc.double({ min: -1e12, max: 1e12, noNaN: true }), (t) => {
      const n = consoleTailBytes({ tailBytes: t });
      assert.ok(Number.isInteger(n) && n >= 1 && n <= CONSOLE_LOG_MAX_BYTES, `${t} -> ${n}`);
      if (Number.isInteger(t) && t >= 1 && t <= CONSOLE_LOG_MAX_BYTES) assert.equal(n, t);
    }),
  );
});
