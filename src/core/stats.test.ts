import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  cloudsimLoessEstimates,
  cloudsimRobustLoessEstimates,
  iqrCloudsim,
  loessLine,
  mad,
  median,
  olsRSquared,
  percentileLegacy,
  SimpleRegression,
} from './stats.ts';

test('median() is the middle value for odd n and the mean of the middle two for even n', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5); // sorted 1 2 3 4: pos = 0.5·5 = 2.5 → 2 + 0.5·(3 − 2)
  assert.equal(percentileLegacy([10, 20, 30, 40], 0.25), 12.5); // pos 1.25 → 10 + 0.25·10
});

test('mad() is the median of absolute deviations from the median', () => {
  // median 3; |dev| = 2 1 0 1 7 → sorted 0 1 1 2 7 → 1
  assert.equal(mad([1, 2, 3, 4, 10]), 1);
  assert.equal(mad([]), 0);
});

test('iqrCloudsim() picks Q1 and Q3 at round(0.25(n+1))−1 and round(0.75(n+1))−1', () => {
  // n = 12: Q1 index round(3.25)−1 = 2, Q3 index round(9.75)−1 = 9 → 9 − 2 = 7 for data 0..11
  assert.equal(iqrCloudsim([11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]), 7);
  // n = 10: Q1 index round(2.75)−1 = 2, Q3 index round(8.25)−1 = 7 → 70 − 20
  assert.equal(iqrCloudsim([0, 10, 20, 30, 40, 50, 60, 70, 80, 90]), 50);
  assert.throws(() => iqrCloudsim([1, 2]), RangeError);
});

test('SimpleRegression fits y = 2 + 3x exactly and predicts on the line', () => {
  const r = new SimpleRegression();
  for (let x = 1; x <= 10; x++) r.addData(x, 2 + 3 * x);
  const [b0, b1] = r.estimates();
  assert.ok(Math.abs(b0 - 2) < 1e-12 && Math.abs(b1 - 3) < 1e-12);
  assert.ok(Math.abs(r.predict(11) - 35) < 1e-12);
});

test('CloudSim LR is an unweighted OLS line and LRR equals it on ordinary data (quirk Q5)', () => {
  const y = [0.1, 0.3, 0.2, 0.5, 0.4, 0.6, 0.5, 0.9, 0.7, 0.8];
  const ols = new SimpleRegression();
  y.forEach((v, i) => ols.addData(i + 1, v));
  assert.deepEqual(cloudsimLoessEstimates(y), ols.estimates());
  assert.deepEqual(cloudsimRobustLoessEstimates(y), ols.estimates());
});

test('loessLine() weights recent points more and its robust pass ignores an outlier', () => {
  // Flat at 0.2 then a spike in the oldest point: the robust fit stays near 0.2.
  const y = [0.9, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2];
  const [b0, b1] = loessLine(y, 2);
  assert.ok(Math.abs(b0 + b1 * 10 - 0.2) < 1e-9);
  // A plain OLS line is dragged by the outlier.
  const [c0, c1] = cloudsimLoessEstimates(y);
  assert.ok(Math.abs(c0 + c1 * 10 - 0.2) > 0.05);
  // Exact on a line.
  const [l0, l1] = loessLine([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((x) => 0.1 + 0.05 * x));
  assert.ok(Math.abs(l0 - 0.1) < 1e-12 && Math.abs(l1 - 0.05) < 1e-12);
});

test('olsRSquared() is 1 for an exact linear relation and matches the hand-computed value otherwise', () => {
  const x = [1, 2, 3, 4, 5];
  assert.ok(
    Math.abs(
      olsRSquared(
        x.map((v) => 2 * v + 1),
        [x],
      ) - 1,
    ) < 1e-12,
  );
  // y = 1 3 2 5 4 on x = 1..5: slope 0.8, SSres = 2.6·… worked out: ŷ = 0.6 + 0.8x,
  // residuals −0.4 0.8 −1 1.2 −0.6 → SSres = 3.6; SStot = 10 → R² = 0.64
  assert.ok(Math.abs(olsRSquared([1, 3, 2, 5, 4], [x]) - 0.64) < 1e-12);
  assert.throws(
    () =>
      olsRSquared(
        [1, 2],
        [
          [1, 2],
          [3, 4],
        ],
      ),
    RangeError,
  ); // 3 parameters, 2 observations
  assert.throws(() => olsRSquared([1, 2, 3], [[1, 1, 1]]), RangeError); // collinear with the intercept
});
