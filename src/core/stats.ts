/**
 * Numerics used by the overload detectors and selection policies.
 *
 * Several functions reproduce Apache Commons Math 3 bit for bit (same operation order), because
 * CloudSim 4.0 decides with them and `--mode cloudsim` must make the same decisions.
 * The others are the textbook methods that `--mode default` uses instead.
 */

/**
 * Percentile with Commons Math's LEGACY estimation (the default of `DescriptiveStatistics`).
 * `sorted` must be sorted ascending; `p` is in (0, 1].
 * @example percentileLegacy([1, 2, 3, 4], 0.5) // 2.5
 */
export function percentileLegacy(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const pos = p === 1 ? n : p * (n + 1);
  const fpos = Math.floor(pos);
  const dif = pos - fpos;
  if (pos < 1) return sorted[0]!;
  if (pos >= n) return sorted[n - 1]!;
  const lower = sorted[fpos - 1]!;
  const upper = sorted[fpos]!;
  return lower + dif * (upper - lower);
}

/** Median (Commons Math legacy percentile 50): the mean of the two middle values for even n. */
export function median(data: ArrayLike<number>): number {
  const sorted = Float64Array.from(data).sort();
  return percentileLegacy(sorted, 0.5);
}

/** Median absolute deviation, as CloudSim's `MathUtil#mad` (0 for empty data). */
export function mad(data: ArrayLike<number>): number {
  if (data.length === 0) return 0;
  const m = median(data);
  const dev = new Float64Array(data.length);
  for (let i = 0; i < data.length; i++) dev[i] = Math.abs(m - data[i]!);
  return median(dev);
}

/**
 * Interquartile range as CloudSim's `MathUtil#iqr`: sorted data, Q1 at index round(0.25(n+1))-1,
 * Q3 at round(0.75(n+1))-1 (0-based). Throws RangeError for fewer than 3 values.
 */
export function iqrCloudsim(data: ArrayLike<number>): number {
  const n = data.length;
  if (n < 3) throw new RangeError(`iqrCloudsim needs at least 3 values, got ${n}`);
  const s = Float64Array.from(data).sort();
  const q1 = Math.round(0.25 * (n + 1)) - 1;
  const q3 = Math.round(0.75 * (n + 1)) - 1;
  return s[q3]! - s[q1]!;
}

/**
 * Ordinary least-squares line with intercept, updated one point at a time exactly as Commons Math
 * `SimpleRegression#addData` does (so the last bits match CloudSim's).
 */
export class SimpleRegression {
  private sumX = 0;
  private sumXX = 0;
  private sumY = 0;
  private sumXY = 0;
  private xbar = 0;
  private ybar = 0;
  private n = 0;

  addData(x: number, y: number): void {
    if (this.n === 0) {
      this.xbar = x;
      this.ybar = y;
    } else {
      const fact1 = 1.0 + this.n;
      const fact2 = this.n / (1.0 + this.n);
      const dx = x - this.xbar;
      const dy = y - this.ybar;
      this.sumXX += dx * dx * fact2;
      this.sumXY += dx * dy * fact2;
      this.xbar += dx / fact1;
      this.ybar += dy / fact1;
    }
    this.sumX += x;
    this.sumY += y;
    this.n++;
  }

  /** Slope, NaN when undefined (fewer than 2 points or all x equal). */
  slope(): number {
    if (this.n < 2) return Number.NaN;
    if (Math.abs(this.sumXX) < 10 * Number.MIN_VALUE) return Number.NaN;
    return this.sumXY / this.sumXX;
  }

  intercept(): number {
    return (this.sumY - this.slope() * this.sumX) / this.n;
  }

  /** [intercept, slope] as `regress().getParameterEstimates()`; slope NaN if x has no spread. */
  estimates(): [number, number] {
    if (this.n < 3) throw new RangeError(`regression needs at least 3 points, got ${this.n}`);
    // Commons Math's Precision.SAFE_MIN = 2^-1022.
    if (Math.abs(this.sumXX) > 2.2250738585072014e-308) return [this.intercept(), this.slope()];
    return [this.sumY / this.n, Number.NaN];
  }

  predict(x: number): number {
    const b1 = this.slope();
    return this.intercept() + b1 * x;
  }
}

const tricubeCache = new Map<number, Float64Array>();

/** CloudSim's (inverted) "tricube" weights, `MathUtil#getTricubeWeigts`: 1/tricube. Cached per n: do not modify. */
export function cloudsimTricubeWeights(n: number): Float64Array {
  const hit = tricubeCache.get(n);
  if (hit) return hit;
  const w = new Float64Array(n);
  const top = n - 1;
  const spread = top;
  for (let i = 2; i < n; i++) {
    const k = Math.pow(1 - Math.pow((top - i) / spread, 3), 3);
    w[i] = k > 0 ? 1 / k : Number.MAX_VALUE;
  }
  w[0] = w[1] = w[2]!;
  tricubeCache.set(n, w);
  return w;
}

/** CloudSim's `MathUtil#createWeigthedLinearRegression`: weights used only if >= 40 % are <= 0. */
function cloudsimWeightedRegression(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  w: ArrayLike<number>,
): SimpleRegression {
  let zeros = 0;
  for (let i = 0; i < w.length; i++) if (w[i]! <= 0) zeros++;
  const useWeights = zeros >= 0.4 * w.length;
  const r = new SimpleRegression();
  for (let i = 0; i < x.length; i++) {
    if (useWeights) {
      const s = Math.sqrt(w[i]!);
      r.addData(s * x[i]!, s * y[i]!);
    } else r.addData(x[i]!, y[i]!);
  }
  return r;
}

/**
 * CloudSim's "local regression" (`MathUtil#getLoessParameterEstimates`): in effect an unweighted
 * OLS line over y at x = 1..n (quirk Q5). Returns [intercept, slope].
 */
export function cloudsimLoessEstimates(y: ArrayLike<number>): [number, number] {
  // The weights are all positive, so CloudSim never applies them: a plain OLS fit.
  const r = new SimpleRegression();
  for (let i = 0; i < y.length; i++) r.addData(i + 1, y[i]!);
  return r.estimates();
}

/** CloudSim's "robust local regression" (`MathUtil#getRobustLoessParameterEstimates`), quirks included. */
export function cloudsimRobustLoessEstimates(y: ArrayLike<number>): [number, number] {
  const n = y.length;
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = i + 1;
  const first = cloudsimWeightedRegression(x, y, cloudsimTricubeWeights(n));
  const residuals = new Float64Array(n);
  for (let i = 0; i < n; i++) residuals[i] = y[i]! - first.predict(x[i]!);
  const tricube = cloudsimTricubeWeights(n);
  const absRes = residuals.map(Math.abs);
  const s6 = median(absRes) * 6;
  const w2 = new Float64Array(n);
  for (let i = 2; i < n; i++) {
    const k = Math.pow(1 - Math.pow(residuals[i]! / s6, 2), 2);
    w2[i] = k > 0 ? (1 / k) * tricube[i]! : Number.MAX_VALUE;
  }
  w2[0] = w2[1] = w2[2]!;
  // CloudSim's NaN fallback compares with == NaN and never fires; so neither does ours.
  return cloudsimWeightedRegression(x, y, w2).estimates();
}

/** Tricube kernel T(u) = (1 - |u|^3)^3 on [0, 1), 0 outside (Cleveland 1979). */
export function tricube(u: number): number {
  const a = Math.abs(u);
  if (a >= 1) return 0;
  const t = 1 - a * a * a;
  return t * t * t;
}

/** Bisquare kernel B(u) = (1 - u^2)^2 on [0, 1), 0 outside (Cleveland 1979). */
export function bisquare(u: number): number {
  const a = Math.abs(u);
  if (a >= 1) return 0;
  const t = 1 - a * a;
  return t * t;
}

/** Weighted least-squares line; returns [intercept, slope] (slope 0 when x has no weighted spread). */
export function weightedLine(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  w: ArrayLike<number>,
): [number, number] {
  let sw = 0,
    sx = 0,
    sy = 0;
  for (let i = 0; i < x.length; i++) {
    sw += w[i]!;
    sx += w[i]! * x[i]!;
    sy += w[i]! * y[i]!;
  }
  if (sw <= 0) return [Number.NaN, Number.NaN];
  const mx = sx / sw,
    my = sy / sw;
  let sxx = 0,
    sxy = 0;
  for (let i = 0; i < x.length; i++) {
    const dx = x[i]! - mx;
    sxx += w[i]! * dx * dx;
    sxy += w[i]! * dx * (y[i]! - my);
  }
  const slope = sxx > 0 ? sxy / sxx : 0;
  return [my - slope * mx, slope];
}

/**
 * Local regression as Beloglazov & Buyya (CCPE 2012, §6.2) describe it, done properly: a line fitted
 * to y at x = 1..n with tricube weights of the distance from the newest point, w_i = T((n - i)/(n - 1)),
 * and `robustIterations` rounds of Cleveland's bisquare reweighting (Cleveland, JASA 1979) with
 * residuals scaled by 6 × median |residual|. Returns [intercept, slope].
 */
export function loessLine(y: ArrayLike<number>, robustIterations = 0): [number, number] {
  const n = y.length;
  if (n < 3) throw new RangeError(`loessLine needs at least 3 points, got ${n}`);
  const { x, base, w, res } = loessScratch(n);
  let est = weightedLine(x, y, base);
  for (let it = 0; it < robustIterations; it++) {
    for (let i = 0; i < n; i++) res[i] = Math.abs(y[i]! - (est[0] + est[1] * x[i]!));
    const s = 6 * median(res);
    if (!(s > 0)) break; // perfect fit: nothing to down-weight
    for (let i = 0; i < n; i++) w[i] = base[i]! * bisquare(res[i]! / s);
    est = weightedLine(x, y, w);
  }
  return est;
}

const loessCache = new Map<
  number,
  { x: Float64Array; base: Float64Array; w: Float64Array; res: Float64Array }
>();

/** x = 1..n and tricube weights of the distance from the newest point (cached per n). */
function loessScratch(n: number) {
  let c = loessCache.get(n);
  if (!c) {
    const x = new Float64Array(n);
    const base = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      x[i] = i + 1;
      // The oldest point would get weight exactly 0; scale by n so every point counts a little.
      base[i] = tricube((n - 1 - i) / n);
    }
    c = { x, base, w: new Float64Array(n), res: new Float64Array(n) };
    loessCache.set(n, c);
  }
  return c;
}

/**
 * Coefficient of determination R² of an OLS multiple regression with intercept of `y` on the columns
 * `xs` (each of y's length), solved by Householder QR exactly as Commons Math 3
 * `OLSMultipleLinearRegression#calculateRSquared` does.
 * Throws RangeError when the data cannot be fitted (no regressor, fewer observations than
 * parameters, or a singular design), where Commons Math throws IllegalArgumentException.
 */
export function olsRSquared(y: ArrayLike<number>, xs: ReadonlyArray<ArrayLike<number>>): number {
  const m = y.length; // observations
  const p = xs.length + 1; // parameters incl. intercept
  if (xs.length === 0) throw new RangeError('olsRSquared needs at least one regressor');
  if (p > m) throw new RangeError(`olsRSquared needs at least ${p} observations, got ${m}`);
  // qrt = transpose of the design matrix: qrt[col][row]
  const qrt: Float64Array[] = [new Float64Array(m).fill(1)];
  for (const col of xs) qrt.push(Float64Array.from({ length: m }, (_, i) => col[i]!));
  const rDiag = new Float64Array(p);
  for (let minor = 0; minor < Math.min(m, p); minor++) {
    const qm = qrt[minor]!;
    let xNormSqr = 0;
    for (let row = minor; row < m; row++) {
      const c = qm[row]!;
      xNormSqr += c * c;
    }
    const a = qm[minor]! > 0 ? -Math.sqrt(xNormSqr) : Math.sqrt(xNormSqr);
    rDiag[minor] = a;
    if (a !== 0.0) {
      qm[minor] = qm[minor]! - a;
      for (let col = minor + 1; col < p; col++) {
        const qc = qrt[col]!;
        let alpha = 0;
        for (let row = minor; row < m; row++) alpha -= qc[row]! * qm[row]!;
        alpha /= a * qm[minor]!;
        for (let row = minor; row < m; row++) qc[row] = qc[row]! - alpha * qm[row]!;
      }
    }
  }
  for (let i = 0; i < p; i++)
    if (Math.abs(rDiag[i]!) <= 0) throw new RangeError('olsRSquared: singular design matrix');
  const yy = Float64Array.from({ length: m }, (_, i) => y[i]!);
  for (let minor = 0; minor < Math.min(m, p); minor++) {
    const qm = qrt[minor]!;
    let dot = 0;
    for (let row = minor; row < m; row++) dot += yy[row]! * qm[row]!;
    dot /= rDiag[minor]! * qm[minor]!;
    for (let row = minor; row < m; row++) yy[row] = yy[row]! + dot * qm[row]!;
  }
  const beta = new Float64Array(p);
  for (let row = p - 1; row >= 0; --row) {
    yy[row] = yy[row]! / rDiag[row]!;
    const yRow = yy[row]!;
    const qr = qrt[row]!;
    beta[row] = yRow;
    for (let i = 0; i < row; i++) yy[i] = yy[i]! - yRow * qr[i]!;
  }
  // Residual sum of squares: r = y - X b, r·r.
  let rss = 0;
  for (let i = 0; i < m; i++) {
    let fit = beta[0]! * 1;
    for (let j = 1; j < p; j++) fit += xs[j - 1]![i]! * beta[j]!;
    const r = y[i]! - fit;
    rss += r * r;
  }
  // Total sum of squares via Commons Math's SecondMoment (Welford).
  let n = 0,
    m1 = 0,
    m2 = 0;
  for (let i = 0; i < m; i++) {
    n++;
    const dev = y[i]! - m1;
    const nDev = dev / n;
    m1 += nDev;
    m2 += (n - 1) * dev * nDev;
  }
  return 1 - rss / m2;
}
