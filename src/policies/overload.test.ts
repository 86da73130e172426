import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  iqrDetector,
  madDetector,
  regressionDetector,
  thresholdDetector,
  type HostLoadView,
} from './overload.ts';

/** A host view with the given utilization now and history (newest first). */
function host(load: number, history: number[] = [], maxVmRamMiB = 1740): HostLoadView {
  return {
    capacityMips: 1000,
    requestedMips: load * 1000,
    history: () => Float64Array.from(history),
    maxVmRamMiB,
    bandwidthMbps: 1000,
  };
}

test('THR is overloaded strictly above its threshold', () => {
  const thr = thresholdDetector(0.8);
  assert.equal(thr(host(0.8)), false);
  assert.equal(thr(host(0.81)), true);
});

test('IQR and MAD fall back to THR 0.7 with fewer than 12 history values', () => {
  const fb = thresholdDetector(0.7);
  const short = Array(11).fill(0.5);
  assert.equal(iqrDetector(1.5, fb)(host(0.75, short)), true);
  assert.equal(madDetector(2.5, fb)(host(0.65, short)), false);
});

test('MAD threshold is 1 − s·MAD(history)', () => {
  // history 0.1 0.2 … 1.2: median 0.65, |dev| = 0.55 0.45 … 0.55 → MAD = 0.3
  // upper = 1 − 2.5·0.3 = 0.25
  const h = Array.from({ length: 12 }, (_, i) => (i + 1) / 10);
  const mad = madDetector(2.5, thresholdDetector(0.7));
  assert.equal(mad(host(0.26, h)), true);
  assert.equal(mad(host(0.24, h)), false);
});

test('IQR threshold is 1 − s·IQR(history)', () => {
  // 12 values 0.05 … 0.6: Q1 = sorted[2] = 0.15, Q3 = sorted[9] = 0.5 → IQR 0.35 → upper 1 − 1.5·0.35 = 0.475
  const h = Array.from({ length: 12 }, (_, i) => (i + 1) * 0.05);
  const iqr = iqrDetector(1.5, thresholdDetector(0.7));
  assert.equal(iqr(host(0.48, h)), true);
  assert.equal(iqr(host(0.47, h)), false);
});

test('LR predicts one migration interval ahead and compares s·prediction with 1', () => {
  // Newest first: 0.75 0.70 … 0.30 → oldest-first line y = 0.25 + 0.05x on x = 1..10;
  // the 1740-MiB migration takes 27.84 s < 300 s → predict x = 11: 0.8; 1.2·0.8 = 0.96 < 1
  const h = Array.from({ length: 10 }, (_, i) => 0.75 - 0.05 * i);
  const fb = thresholdDetector(0.7);
  assert.equal(regressionDetector(1.2, false, 'cloudsim', fb)(host(0.1, h)), false);
  // With s = 1.3: 1.04 ≥ 1 → overloaded
  assert.equal(regressionDetector(1.3, false, 'cloudsim', fb)(host(0.1, h)), true);
  assert.equal(regressionDetector(1.3, true, 'loess', fb)(host(0.1, h)), true);
  // Short history → THR 0.7 on the current load
  assert.equal(regressionDetector(1.2, false, 'cloudsim', fb)(host(0.71, h.slice(0, 9))), true);
});
