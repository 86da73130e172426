import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { renderReport } from '../src/sim/report.ts';
import { runExperiment } from '../src/sim/run.ts';
import { PLANETLAB_SCENARIO } from '../src/sim/scenario.ts';

const DAY = join(new URL('..', import.meta.url).pathname, '../shared/data/planetlab/20110303');
const small = { ...PLANETLAB_SCENARIO, workload: { type: 'planetlab' as const, limitVms: 60 } };
const policies = ['thr-mmt:0.8', 'lr-rs:1.2'];
const run = (seeds: number[]) =>
  runExperiment({ scenario: small, days: [DAY], policies, seeds, mode: 'default', hosts: 30 });
const count = (html: string, s: string) => html.split(s).length - 1;

test('the HTML report draws every chart, one line per policy, with one seed and with several', () => {
  const one = renderReport(run([1]), { title: 'one' });
  assert.equal(count(one, '<svg '), 4, 'four charts for the day');
  assert.equal(count(one, '<polyline'), 4 * policies.length);
  assert.equal(count(one, '<h2>20110303</h2>'), 1);

  const several = renderReport(run([1, 2, 3]), { title: 'several' });
  assert.equal(count(several, '<svg '), 3 * 4, 'four charts per day and seed');
  assert.equal(count(several, '<polyline'), 3 * 4 * policies.length);
  for (const seed of [1, 2, 3]) {
    assert.equal(count(several, `<h2>20110303, seed ${seed}</h2>`), 1, `seed ${seed}'s charts`);
    assert.equal(count(several, `<td>20110303 seed ${seed}</td>`), policies.length, `seed ${seed}'s rows`);
  }
});
