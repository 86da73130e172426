import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../runtime/random.ts';
import {
  maximumCorrelation,
  minimumMigrationTime,
  minimumUtilization,
  randomSelection,
  type VmSelectionView,
} from './selection.ts';

function vms(rows: { ram: number; mips: number; demand: number; hist?: number[] }[]): VmSelectionView {
  return {
    ramMiB: rows.map((r) => r.ram),
    mips: rows.map((r) => r.mips),
    demandMips: rows.map((r) => r.demand),
    history: (v) => rows[v]!.hist ?? [],
  };
}

const r = seededRandom(7);

test('MMT picks the VM with the least RAM, the first of equals', () => {
  const v = vms([
    { ram: 1740, mips: 1000, demand: 100 },
    { ram: 613, mips: 500, demand: 10 },
    { ram: 613, mips: 500, demand: 5 },
  ]);
  assert.equal(minimumMigrationTime([0, 1, 2], v, r), 1);
  assert.equal(minimumMigrationTime([0, 2, 1], v, r), 2);
  assert.equal(minimumMigrationTime([], v, r), -1);
});

test('MU picks the VM using the smallest share of its own MIPS', () => {
  // shares: 100/1000 = 0.1, 100/500 = 0.2, 40/500 = 0.08
  const v = vms([
    { ram: 1, mips: 1000, demand: 100 },
    { ram: 1, mips: 500, demand: 100 },
    { ram: 1, mips: 500, demand: 40 },
  ]);
  assert.equal(minimumUtilization([0, 1, 2], v, r), 2);
});

test('RS is uniform and repeatable for a seed', () => {
  const v = vms(Array.from({ length: 4 }, () => ({ ram: 1, mips: 1, demand: 1 })));
  const a = Array.from({ length: 50 }, () => 0);
  const g1 = seededRandom(3),
    g2 = seededRandom(3);
  const s1 = a.map(() => randomSelection([0, 1, 2, 3], v, g1));
  const s2 = a.map(() => randomSelection([0, 1, 2, 3], v, g2));
  assert.deepEqual(s1, s2);
  assert.equal(new Set(s1).size, 4);
});

test('MC picks the VM best explained by the others, and falls back to MMT when it cannot regress', () => {
  // VM 2 = VM 0 + VM 1 exactly → R² = 1 for VM 2; the others are less well explained.
  const a = [0.1, 0.5, 0.2, 0.7, 0.3, 0.9];
  const b = [0.3, 0.1, 0.4, 0.2, 0.6, 0.1];
  const c = a.map((x, i) => x + b[i]!);
  const v = vms([
    { ram: 613, mips: 1, demand: 1, hist: a },
    { ram: 870, mips: 1, demand: 1, hist: b },
    { ram: 1740, mips: 1, demand: 1, hist: c },
  ]);
  const mc = maximumCorrelation(minimumMigrationTime);
  // with x = 2 other histories all three are exact (c = a + b); R² ties → first wins
  assert.equal(mc([2, 0, 1], v, r), 2);
  // one candidate: regression impossible → MMT
  assert.equal(mc([1], v, r), 1);
  // too few observations (2) for 3 parameters → MMT (least RAM = VM 0)
  const short = vms([
    { ram: 613, mips: 1, demand: 1, hist: [0.1, 0.2] },
    { ram: 870, mips: 1, demand: 1, hist: [0.3, 0.1] },
    { ram: 1740, mips: 1, demand: 1, hist: [0.4, 0.3] },
  ]);
  assert.equal(mc([2, 1, 0], short, r), 0);
});
