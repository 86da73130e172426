import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseSeeds } from '../src/cli/sim-command.ts';
import {
  experimentCells,
  runExperiment,
  type ResultRow,
  type RunOutput,
  type SweepCell,
} from '../src/sim/run.ts';
import { PLANETLAB_SCENARIO, SYNTHETIC_SCENARIO } from '../src/sim/scenario.ts';
import { CellQueue, runSweep, SweepCellError } from '../src/sim/sweep.ts';
import fc from 'fast-check';

const root = new URL('..', import.meta.url).pathname;
const DATA = join(root, '../shared/data/planetlab');
const DAYS = [join(DATA, '20110303'), join(DATA, '20110306')];
const bin = join(root, 'bin/nubis.js');

const small = { ...PLANETLAB_SCENARIO, workload: { type: 'planetlab' as const, limitVms: 150 } };

/** A row without the fields that measure the run rather than the simulation. */
const decisions = ({ wallMs: _w, peakRssMiB: _p, ...r }: ResultRow) => r;
const same = (a: RunOutput, b: RunOutput) => {
  assert.deepEqual(b.rows.map(decisions), a.rows.map(decisions));
  assert.deepEqual([...b.series.entries()], [...a.series.entries()]);
};

test('experimentCells() lists the grid day by day, then seed by seed, then policy by policy', () => {
  const cells = experimentCells({
    scenario: small,
    days: ['/d/1', '/d/2'],
    policies: ['a', 'b'],
    seeds: [7, 8],
  });
  assert.deepEqual(
    cells.map((c) => `${c.index} ${c.day} ${c.seed} ${c.policy}`),
    [
      '0 /d/1 7 a',
      '1 /d/1 7 b',
      '2 /d/1 8 a',
      '3 /d/1 8 b',
      '4 /d/2 7 a',
      '5 /d/2 7 b',
      '6 /d/2 8 a',
      '7 /d/2 8 b',
    ],
  );
  // A synthetic workload has no days: one cell per seed and policy; without seeds, the scenario's seed.
  const syn = experimentCells({ scenario: SYNTHETIC_SCENARIO, days: ['/ignored'], policies: ['a'] });
  assert.deepEqual(syn, [{ index: 0, day: undefined, seed: SYNTHETIC_SCENARIO.seed, policy: 'a' }]);
});

test('CellQueue gives every cell once and moves a worker to another day only when its day has none left', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 5 }),
      fc.array(fc.nat(), { maxLength: 200 }),
      (nDays, nSeeds, nPolicies, jobs, order) => {
        const cells = experimentCells({
          scenario: small,
          days: Array.from({ length: nDays }, (_, i) => `/d/${i}`),
          seeds: Array.from({ length: nSeeds }, (_, i) => i),
          policies: Array.from({ length: nPolicies }, (_, i) => `p${i}`),
        });
        const q = new CellQueue(cells, (c) => c.day!);
        const last: (SweepCell | undefined)[] = new Array(jobs).fill(undefined);
        const taken: SweepCell[] = [];
        for (let i = 0; taken.length < cells.length; i++) {
          const w = (order[i] ?? i) % jobs;
          const c = q.take(last[w]);
          assert.ok(c, 'a cell is left');
          const prev = last[w];
          if (prev && c.day !== prev.day)
            assert.ok(
              cells.filter((x) => x.day === prev.day).every((x) => taken.includes(x)),
              `a worker left day ${prev.day} with cells of it still to run`,
            );
          taken.push(c);
          last[w] = c;
        }
        assert.equal(q.take(last[0]), undefined);
        assert.deepEqual(
          taken.map((c) => c.index).sort((a, b) => a - b),
          cells.map((c) => c.index),
        );
      },
    ),
  );
});

test('runSweep() in 2 worker threads gives the rows and series of the sequential run, in its order', async () => {
  const o = {
    scenario: small,
    days: DAYS,
    policies: ['thr-mmt:0.8', 'lr-rs:1.2'], // lr-rs draws from the seeded generator: the seed matters
    seeds: [1, 2],
    mode: 'default' as const,
    hosts: 60,
  };
  const sequential = runExperiment(o);
  const progress: number[] = [];
  const parallel = await runSweep({
    ...o,
    jobs: 2,
    onProgress: (_d, _t, _l, finished) => progress.push(finished),
  });
  assert.equal(parallel.rows.length, 8);
  same(sequential, parallel);
  assert.deepEqual([...parallel.series.keys()].slice(0, 2), [
    '20110303 seed 1|thr-mmt:0.8',
    '20110303 seed 1|lr-rs:1.2',
  ]);
  assert.deepEqual(
    parallel.rows.map((r) => r.seed),
    [1, 1, 2, 2, 1, 1, 2, 2],
  );
  assert.equal(progress.at(-1), 8, 'progress ends with every cell finished');
  assert.ok(
    progress.every((x, i) => i === 0 || x >= progress[i - 1]!),
    'finished cells never go back',
  );
});

test('runSweep() on a synthetic workload draws each seed its own workload, as the sequential run does', async () => {
  const o = {
    scenario: { ...SYNTHETIC_SCENARIO, workload: { type: 'synthetic' as const, vms: 120 } },
    days: [],
    policies: ['lr-mmt:1.2', 'thr-mmt:0.8'],
    seeds: [3, 4],
    mode: 'default' as const,
    hosts: 80,
  };
  const parallel = await runSweep({ ...o, jobs: 2 });
  same(runExperiment(o), parallel);
  assert.notEqual(parallel.rows[0]!.energyKWh, parallel.rows[2]!.energyKWh, 'seeds 3 and 4 differ');
});

test('runSweep() runs the optimal policy in a worker, which loads HiGHS itself, with the sequential numbers', async () => {
  const { highsSyncSolver } = await import('../src/drivers/highs/highs-sync.ts');
  const o = {
    scenario: { ...small, workload: { type: 'planetlab' as const, limitVms: 30 } },
    days: [DAYS[0]!],
    policies: ['optimal:200', 'thr-mmt:0.8'],
    mode: 'default' as const,
    hosts: 12,
  };
  const sequential = runExperiment({ ...o, milp: await highsSyncSolver() });
  same(sequential, await runSweep({ ...o, jobs: 2 }));
  assert.ok(sequential.rows[0]!.migrations > 0, 'the optimizer moved VMs');
});

test('runSweep() rejects with the failed cell named and its code when a cell fails in a worker', async () => {
  await assert.rejects(
    runSweep({
      scenario: small,
      days: DAYS,
      policies: ['optimal'], // refuses cloudsim mode, inside the worker
      mode: 'cloudsim',
      hosts: 150,
      jobs: 2,
    }),
    (e: unknown) => {
      assert.ok(e instanceof SweepCellError);
      assert.equal(e.cell.policy, 'optimal');
      assert.equal(e.causeCode, 'BAD_POLICY');
      assert.match(e.message, /^day 2011030[36], policy optimal, seed \d+: .*default mode only/);
      return true;
    },
  );
  await assert.rejects(
    runSweep({ scenario: small, days: DAYS, policies: ['npa'], mode: 'default', jobs: 0 }),
    {
      name: 'RangeError',
      message: /jobs must be an integer >= 1, got 0/,
    },
  );
});

test('parseSeeds() reads lists and ranges and refuses anything else with what it accepts', () => {
  assert.deepEqual(parseSeeds('1..5'), [1, 2, 3, 4, 5]);
  assert.deepEqual(parseSeeds('1,2,3'), [1, 2, 3]);
  assert.deepEqual(parseSeeds('0..2, 10,2'), [0, 1, 2, 10]); // duplicates once
  for (const bad of ['', '3..1', 'a', '-1', '1..', '1.5'])
    assert.throws(() => parseSeeds(bad), { message: /--seeds takes integers >= 0 as a list or ranges/ });
  assert.throws(() => parseSeeds('1..20000'), { message: /more than 10000 seeds/ });
});

function nubis(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: root });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('nubis sim --jobs 2 prints the rows of --jobs 1 (bundled CLI, workers from its chunks), nothing else', () => {
  const args = ['sim', '--trace', DAYS[0]!, '--trace', DAYS[1]!, '--limit-vms', '120', '--hosts', '50'];
  const grid = [...args, '--policy', 'thr-mmt:0.8,lr-rs:1.2', '--seeds', '1..2', '--json'];
  const one = nubis(...grid, '--jobs', '1');
  const two = nubis(...grid, '--jobs', '2');
  assert.equal(one.code, 0, one.err);
  assert.equal(two.code, 0, two.err);
  assert.equal(two.err, '', 'no progress bar on a non-TTY');
  const a = JSON.parse(one.out) as ResultRow[];
  const b = JSON.parse(two.out) as ResultRow[];
  assert.equal(b.length, 8);
  assert.deepEqual(b.map(decisions), a.map(decisions));
  const table = nubis(...args, '--policy', 'lr-rs:1.2', '--seeds', '1,2', '--jobs', '2');
  assert.equal(table.code, 0, table.err);
  assert.match(table.out, /^day\s+seed\s+policy/);
  assert.match(table.out, /policy \(mean ± sd\)\s+runs/);
  const bad = nubis(...args, '--policy', 'npa', '--jobs', '0');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--jobs must be an integer >= 1, got "0"/);
});

test('nubis sim --jobs 2 names the cell whose trace is malformed and exits 2 as --jobs 1 does', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'nubis-sweep-'));
  for (const d of ['20110101', '20110102']) {
    mkdirSync(join(tmp, d));
    for (const f of readdirSync(DAYS[0]!).slice(0, 3))
      writeFileSync(join(tmp, d, f), readFileSync(join(DAYS[0]!, f)));
  }
  writeFileSync(join(tmp, '20110102', 'zz-bad'), '1\n2\nabc\n');
  const r = nubis('sim', '--trace', tmp, '--hosts', '5', '--policy', 'thr-mmt:0.8,npa', '--jobs', '2');
  assert.equal(r.code, 2, r.err);
  assert.match(
    r.err,
    /day 20110102, policy (thr-mmt:0\.8|npa), seed \d+: .*zz-bad:3: unexpected character "a"/,
  );
  assert.equal(r.out, '');
});
