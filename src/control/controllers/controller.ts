/**
 * A controller is one periodic loop of the control plane (Kubernetes controllers, STYLE.md §9): each
 * tick reads what should be and what is (from the store and the drivers), and acts to bring them
 * together. A tick is idempotent: running it twice, or after a crash half-way through, repairs
 * rather than repeats. Controllers never sleep or set timers: a `ControllerManager` ticks them on
 * the injected clock (the real clock in `nubis serve`, the SimClock in the simulator).
 */

/** One loop of the control plane, ticked by a `ControllerManager`. */
export interface Controller {
  /** A short kebab-case name, unique within a manager (`node-lifecycle`, `energy`...). */
  readonly name: string;
  /** Seconds between ticks (> 0). */
  readonly intervalS: number;
  /**
   * Reconcile once. `nowS` is the clock's time when the tick was due (s). Throwing is allowed: the
   * manager records the error and ticks again at the next interval.
   */
  tick(nowS: number): Promise<void>;
}

/** What a manager knows about one of its controllers (for `/metrics` and tests). */
export interface ControllerStats {
  readonly name: string;
  readonly intervalS: number;
  /** Ticks started. */
  readonly ticks: number;
  /** Ticks that were due while the previous one still ran, and were skipped. */
  readonly skipped: number;
  /** Ticks that threw. */
  readonly errors: number;
  /** Whether a tick is running now. */
  readonly running: boolean;
  /** Clock time the last tick started (s), or null before the first. */
  readonly lastTickS: number | null;
  /** Message of the last error, or null. */
  readonly lastError: string | null;
}

/** A tick's failure, as handed to the manager's `onError`. */
export interface ControllerFailure {
  readonly controller: string;
  /** Clock time the failed tick started (s). */
  readonly atS: number;
  readonly error: unknown;
}

/**
 * A controller from a name, an interval and a function: for loops small enough to need no class.
 * @example controller('energy', 60, () => energy.integrate())
 */
export function controller(
  name: string,
  intervalS: number,
  tick: (nowS: number) => Promise<void>,
): Controller {
  return { name, intervalS, tick };
}
