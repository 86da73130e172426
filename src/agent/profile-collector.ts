/**
 * The agent's memory-profile loop: every interval, each running guest's memory is profiled (one guest
 * at a time: the page scan is rate-limited and costs CPU) and the profiles wait for the next heartbeat,
 * which carries each one once (`take`); a heartbeat that fails puts them back (`putBack`) unless a newer
 * profile of the guest arrived meanwhile.
 */
import type { GuestMemoryProfile } from '../core/memory/profile.ts';
import type { GuestInfo } from '../core/hypervisor.ts';

/** What the collector needs of a driver (QemuDriver has it). */
export interface ProfiledDriver {
  list(): Promise<GuestInfo[]>;
  memoryProfile(id: string, o?: { sampleBits?: number; hashKey?: Buffer }): Promise<GuestMemoryProfile>;
}

export interface ProfileCollectorOptions {
  /** Sampling exponent of the fingerprints. Default 6 (1 page content in 64). */
  sampleBits?: number;
  /** Where failures are reported (one line each). Default: nowhere. */
  warn?: (line: string) => void;
  /**
   * The cloud's fingerprint key (from the control plane's heartbeat answers), mixed into every page
   * hash. With `requireKey`, no guest is profiled until it is known (an enrolled agent never sends
   * fingerprints its control plane cannot compare, nor unkeyed ones).
   */
  hashKey?: () => Buffer | undefined;
  requireKey?: boolean;
}

export class ProfileCollector {
  private readonly ready = new Map<string, GuestMemoryProfile>();
  private running: Promise<void> | undefined;

  constructor(
    private readonly driver: ProfiledDriver,
    private readonly o: ProfileCollectorOptions = {},
  ) {}

  /** Profile every running guest now (a round already under way is joined, not doubled). */
  round(): Promise<void> {
    this.running ??= this.collect().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async collect(): Promise<void> {
    const hashKey = this.o.hashKey?.();
    if (this.o.requireKey && !hashKey) return;
    const guests = (await this.driver.list()).filter((g) => g.state === 'running');
    for (const g of guests) {
      try {
        this.ready.set(
          g.id,
          await this.driver.memoryProfile(g.id, {
            sampleBits: this.o.sampleBits ?? 6,
            ...(hashKey ? { hashKey } : {}),
          }),
        );
      } catch (e) {
        this.o.warn?.(`memory profile of ${g.id} failed: ${(e as Error).message}`);
      }
    }
  }

  /** The profiles measured since the last take (each handed out once). */
  take(): Map<string, GuestMemoryProfile> {
    const out = new Map(this.ready);
    this.ready.clear();
    return out;
  }

  /** Profiles a heartbeat could not deliver: kept for the next one unless a newer one is there. */
  putBack(profiles: Map<string, GuestMemoryProfile>): void {
    for (const [id, p] of profiles) if (!this.ready.has(id)) this.ready.set(id, p);
  }
}
