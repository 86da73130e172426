/**
 * Time is passed in. One interface with a real clock and a simulated one (OpenDC's
 * Dispatcher / SimulationDispatcher). Times are seconds (floating point).
 */

/** A cancellable timer. */
export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Current time, s. */
  now(): number;
  /** Run `fn` after `delayS` seconds. */
  schedule(delayS: number, fn: () => void): Timer;
}

interface Entry {
  time: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A simulated clock: a binary heap of timers ordered by time, ties broken by scheduling order.
 * Time moves only when told to (`runUntil`, `advanceBy`, `runUntilIdle`).
 */
export class SimClock implements Clock {
  private t: number;
  private seq = 0;
  private heap: Entry[] = [];

  constructor(startS = 0) {
    this.t = startS;
  }

  now(): number {
    return this.t;
  }

  /** Schedule at now + delayS. The time is computed as `now + delayS` in floating point. */
  schedule(delayS: number, fn: () => void): Timer {
    if (!(delayS >= 0)) throw new RangeError(`delayS must be >= 0, got ${delayS}`);
    return this.scheduleAt(this.t + delayS, fn);
  }

  /** Schedule at an absolute time (not before now). */
  scheduleAt(timeS: number, fn: () => void): Timer {
    if (!(timeS >= this.t))
      throw new RangeError(`Cannot schedule at ${timeS}: the clock is already at ${this.t}`);
    const e: Entry = { time: timeS, seq: this.seq++, fn, cancelled: false };
    this.push(e);
    return {
      cancel: () => {
        e.cancelled = true;
      },
    };
  }

  /** Time of the next pending timer, or undefined. */
  peekTime(): number | undefined {
    while (this.heap.length > 0 && this.heap[0]!.cancelled) this.pop();
    return this.heap[0]?.time;
  }

  /** Run every timer due strictly before `endS` (in order), then stop with the clock at the last one run. */
  runBefore(endS: number): void {
    for (;;) {
      const next = this.peekTime();
      if (next === undefined || !(next < endS)) return;
      const e = this.pop()!;
      this.t = e.time;
      e.fn();
    }
  }

  /** Run every timer due at or before `timeS`, then set the clock to `timeS`. */
  advanceTo(timeS: number): void {
    for (;;) {
      const next = this.peekTime();
      if (next === undefined || next > timeS) break;
      const e = this.pop()!;
      this.t = e.time;
      e.fn();
    }
    if (timeS > this.t) this.t = timeS;
  }

  advanceBy(delayS: number): void {
    this.advanceTo(this.t + delayS);
  }

  /** Run until no timer is left. */
  runUntilIdle(): void {
    for (;;) {
      const e = this.pop();
      if (!e) return;
      if (e.cancelled) continue;
      this.t = e.time;
      e.fn();
    }
  }

  private less(a: Entry, b: Entry): boolean {
    return a.time < b.time || (a.time === b.time && a.seq < b.seq);
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): Entry | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1,
          r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

/** The real clock (wall time via the platform timers). Only for composition roots. */
export class RealClock implements Clock {
  now(): number {
    return performance.timeOrigin / 1000 + performance.now() / 1000;
  }
  schedule(delayS: number, fn: () => void): Timer {
    const h = setTimeout(fn, delayS * 1000);
    return { cancel: () => clearTimeout(h) };
  }
}
