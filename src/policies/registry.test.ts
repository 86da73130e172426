import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_OPTIMAL_NODES, parsePolicy, PolicySpecError } from './registry.ts';

test('parsePolicy accepts optimal[:NODES] and milp:SECONDS', () => {
  assert.deepEqual(parsePolicy('optimal'), {
    type: 'optimal',
    maxNodes: DEFAULT_OPTIMAL_NODES,
    label: 'optimal',
  });
  assert.deepEqual(parsePolicy('optimal:500'), { type: 'optimal', maxNodes: 500, label: 'optimal:500' });
  assert.deepEqual(parsePolicy(' OPTIMAL:7 '), { type: 'optimal', maxNodes: 7, label: 'OPTIMAL:7' });
  assert.deepEqual(parsePolicy('milp:2.5'), { type: 'optimal', timeLimitS: 2.5, label: 'milp:2.5' });
  // The existing presets are unchanged.
  assert.equal(parsePolicy('lr-mmt:1.2').type, 'migration');
  assert.equal(parsePolicy('dvfs').type, 'dvfs');
});

test('parsePolicy refuses bad optimal and milp limits, saying what is accepted', () => {
  const cases: [string, RegExp][] = [
    ['optimal:0', /whole number of branch-and-bound nodes >= 1/],
    ['optimal:1.5', /whole number/],
    ['optimal:many', /Bad node limit "many"/],
    ['optimal:', /Bad node limit ""/],
    ['milp', /needs a time limit: milp:SECONDS/],
    ['milp:', /needs a time limit/],
    ['milp:-1', /positive number/],
    ['milp:soon', /positive number/],
    ['optimum', /Unknown policy "optimum".*optimal\[:NODES\], milp:SECONDS/],
  ];
  for (const [text, message] of cases)
    assert.throws(
      () => parsePolicy(text),
      (e: unknown) => e instanceof PolicySpecError && message.test(e.message),
      text,
    );
});
