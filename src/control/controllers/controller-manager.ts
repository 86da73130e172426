/**
 * Ticks a set of controllers on a clock (Kubernetes' controller-manager; the timers are OpenDC's
 * Dispatcher idea: the same code on a real and a simulated clock). Per controller, ticks are due
 * every `intervalS` from `start()`; a tick that is due while the previous one still runs is skipped
 * and counted (a loop never runs twice at once); a tick that throws is counted and reported through
 * `onError` without stopping this or any other controller.
 */
import type { Clock, Timer } from '../../runtime/clock.ts';
import type { Controller, ControllerFailure, ControllerStats } from './controller.ts';

/** Options of a `ControllerManager`; all optional. */
export interface ControllerManagerOptions {
  /**
   * Called with every tick's error (record it in the event log: see `recordControllerFailure`). If
   * it throws or rejects, that is swallowed: reporting must not stop a loop.
   */
  onError?: (failure: ControllerFailure) => void | Promise<void>;
  /**
   * Run one tick at a time across all controllers, in the order they fell due (the simulator: a
   * replay then interleaves nothing by chance). Default false: controllers tick concurrently, each
   * still never overlapping itself.
   */
  serial?: boolean;
}

interface Slot {
  readonly controller: Controller;
  timer: Timer | null;
  /** The running tick, if any. */
  inFlight: Promise<void> | null;
  ticks: number;
  skipped: number;
  errors: number;
  lastTickS: number | null;
  lastError: string | null;
}

/**
 * Runs controllers on a clock until stopped.
 * @throws RangeError on a controller with a non-positive interval or a duplicate name.
 * @example
 * const m = new ControllerManager(clock, [heartbeats, energy], { onError: recordControllerFailure(ctx) });
 * m.start();
 * // ...
 * await m.stop();
 */
export class ControllerManager {
  private readonly slots: Slot[] = [];
  private started = false;
  /** The last queued tick, in serial mode. */
  private queue: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    controllers: readonly Controller[],
    private readonly options: ControllerManagerOptions = {},
  ) {
    const names = new Set<string>();
    for (const c of controllers) {
      if (!(Number.isFinite(c.intervalS) && c.intervalS > 0))
        throw new RangeError(`Controller "${c.name}": intervalS must be a number > 0, got ${c.intervalS}`);
      if (names.has(c.name)) throw new RangeError(`Controller "${c.name}" is registered twice`);
      names.add(c.name);
      this.slots.push({
        controller: c,
        timer: null,
        inFlight: null,
        ticks: 0,
        skipped: 0,
        errors: 0,
        lastTickS: null,
        lastError: null,
      });
    }
  }

  /** The controllers' names, in registration order (the order ticks due at the same time start in). */
  get names(): string[] {
    return this.slots.map((s) => s.controller.name);
  }

  /**
   * Schedule every controller: its first tick is due `phaseS + intervalS` from now (`phaseS` 0 unless
   * given), then every `intervalS`. A replay uses a phase so that the loops tick just after the
   * world's events of a step (load reports, failures), as a real control plane acts on what was
   * reported before it.
   * @throws RangeError if already started or stopped, or for a negative phase.
   */
  start(o: { phaseS?: number } = {}): void {
    if (this.stopped) throw new RangeError('ControllerManager was stopped; make a new one');
    if (this.started) throw new RangeError('ControllerManager is already started');
    const phaseS = o.phaseS ?? 0;
    if (!(phaseS >= 0)) throw new RangeError(`phaseS must be a number >= 0, got ${o.phaseS}`);
    this.started = true;
    for (const s of this.slots) this.arm(s, phaseS + s.controller.intervalS);
  }

  /**
   * Tick the named controllers (default: all, in registration order) once, now, and wait for those
   * ticks; a controller whose tick is already running is skipped and counted, as on the timer. Used
   * to reconcile at start-up, and by tests. Errors are handled as for timed ticks (never thrown).
   * @throws RangeError on an unknown name.
   */
  async tickNow(...names: string[]): Promise<void> {
    const chosen = names.length ? names.map((n) => this.slot(n)) : this.slots;
    await Promise.all(chosen.map((s) => this.fire(s)));
  }

  /** Resolves when no tick is running (ticks started meanwhile are waited for too). */
  async idle(): Promise<void> {
    for (;;) {
      const running = this.slots.map((s) => s.inFlight).filter((p): p is Promise<void> => p !== null);
      if (!running.length) return;
      await Promise.all(running);
    }
  }

  /** Cancel every timer (no tick starts after this), then wait for the running ticks to end. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const s of this.slots) {
      s.timer?.cancel();
      s.timer = null;
    }
    await this.idle();
  }

  /** Counters per controller, in registration order. */
  stats(): ControllerStats[] {
    return this.slots.map((s) => ({
      name: s.controller.name,
      intervalS: s.controller.intervalS,
      ticks: s.ticks,
      skipped: s.skipped,
      errors: s.errors,
      running: s.inFlight !== null,
      lastTickS: s.lastTickS,
      lastError: s.lastError,
    }));
  }

  private slot(name: string): Slot {
    const s = this.slots.find((x) => x.controller.name === name);
    if (!s) throw new RangeError(`No controller "${name}"; there are: ${this.names.join(', ') || 'none'}`);
    return s;
  }

  private arm(s: Slot, delayS = s.controller.intervalS): void {
    s.timer = this.clock.schedule(delayS, () => {
      if (this.stopped) return;
      // Fixed rate: the next tick is due one interval after this one was, however long this one runs.
      this.arm(s);
      void this.fire(s);
    });
  }

  /** Start a tick unless one is running (then count a skip); resolves when the tick ends. */
  private fire(s: Slot): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (s.inFlight) {
      s.skipped++;
      return s.inFlight;
    }
    const dueS = this.clock.now();
    // `finally` callbacks run asynchronously, so `inFlight` is set before it is cleared.
    const run = (this.options.serial ? this.queue.then(() => this.run(s, dueS)) : this.run(s, dueS)).finally(
      () => {
        s.inFlight = null;
      },
    );
    s.inFlight = run;
    if (this.options.serial) this.queue = run;
    return run;
  }

  private async run(s: Slot, dueS: number): Promise<void> {
    if (this.stopped) return; // queued behind a tick that ran past stop()
    s.ticks++;
    s.lastTickS = dueS;
    try {
      await s.controller.tick(dueS);
    } catch (error) {
      s.errors++;
      s.lastError = error instanceof Error ? error.message : String(error);
      try {
        await this.options.onError?.({ controller: s.controller.name, atS: dueS, error });
      } catch {
        // Reporting failed too (the store may be down); the counters still say so.
      }
    }
  }
}
