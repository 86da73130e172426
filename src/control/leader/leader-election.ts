/**
 * Leader election among the API processes of one control plane (`nubis serve --workers N`): each
 * process tries a lock that only one can hold (a PostgreSQL session advisory lock: pg-lock-session.ts)
 * and retries every `retryS` until it holds it; the holder runs the control plane's loops. The lock
 * is the session's, so a leader that dies (or loses its connection) frees it and a follower takes
 * over at its next try. The lease-free lock is PostgreSQL's advisory lock
 * (postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS).
 */
import type { Clock, Timer } from '../../runtime/clock.ts';

/** A lock only one process holds; `tryAcquire` resolves true when this process holds it (now or already). */
export interface LeaderLock {
  tryAcquire(): Promise<boolean>;
}

/** Options of a `LeaderElection` (all optional but `onElected`). */
export interface LeaderElectionOptions {
  /** Seconds between tries while another process leads (default 2). */
  retryS?: number;
  /** Called once, when this process becomes the leader (start the loops there). */
  onElected: () => void | Promise<void>;
  /** Told when a try fails (the database is unreachable); tries go on. */
  onError?: (error: unknown) => void;
}

/**
 * Tries the lock now and every `retryS` until it is held, then calls `onElected` once.
 * @throws RangeError for a `retryS` that is not a number > 0.
 * @example new LeaderElection(clock, session, { onElected: () => manager.start() }).start();
 */
export class LeaderElection {
  private timer: Timer | null = null;
  private stopped = false;
  private leader = false;
  private readonly retryS: number;

  constructor(
    private readonly clock: Clock,
    private readonly lock: LeaderLock,
    private readonly options: LeaderElectionOptions,
  ) {
    this.retryS = options.retryS ?? 2;
    if (!(Number.isFinite(this.retryS) && this.retryS > 0))
      throw new RangeError(`retryS must be a number of seconds > 0, got ${options.retryS}`);
  }

  /** Whether this process holds the lock (and runs the loops). */
  get isLeader(): boolean {
    return this.leader;
  }

  /** Try now; resolves after this first try (true: this process leads). */
  start(): Promise<boolean> {
    return this.attempt();
  }

  /** No more tries (the lock, if held, stays held until the session ends). */
  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
  }

  private async attempt(): Promise<boolean> {
    if (this.stopped || this.leader) return this.leader;
    let got = false;
    try {
      got = await this.lock.tryAcquire();
    } catch (e) {
      this.options.onError?.(e);
    }
    if (this.stopped) return false;
    if (!got) {
      this.timer = this.clock.schedule(this.retryS, () => void this.attempt());
      return false;
    }
    this.leader = true;
    await this.options.onElected();
    return true;
  }
}
