/**
 * The agent's memory loop: every round it reads host and guest memory, runs the balloon rule and
 * the KSM rule (src/policies/memory.ts), applies the decisions and keeps them for the API.
 */
import { GuestState } from '../core/hypervisor.ts';
import { hostMemory, readKsm, setKsm, type KsmState } from '../drivers/ksm.ts';
import type { QemuDriver } from '../drivers/qemu/qemu-driver.ts';
import {
  balloonRound,
  DEFAULT_BALLOON_POLICY,
  ksmDecision,
  type BalloonDecision,
  type BalloonPolicyOptions,
} from '../policies/memory.ts';

export interface MemoryReport {
  at: string;
  host: { totalMiB: number; freeMiB: number };
  ksm: KsmState;
  balloon: BalloonDecision[];
  ksmReason: string;
}

export class MemoryManager {
  last?: MemoryReport;
  /** Balloon targets the control plane set (PUT /v1/guests/:id/balloon): the local loop's ceilings. */
  private readonly targets = new Map<string, number>();
  constructor(
    private readonly driver: QemuDriver,
    private readonly o: {
      manageKsm: boolean;
      policy?: BalloonPolicyOptions;
      host?: () => { totalMiB: number; freeMiB: number };
    } = { manageKsm: false },
  ) {}

  /**
   * Record the control plane's balloon target for a guest: when the host is relaxed, the local loop
   * gives memory back only up to it (under pressure it may still reclaim below it, never below the
   * guest's minimum). `undefined` forgets it.
   */
  setTarget(id: string, targetMiB: number | undefined): void {
    if (targetMiB === undefined) this.targets.delete(id);
    else this.targets.set(id, targetMiB);
  }

  /** One round: decide and apply. */
  async round(): Promise<MemoryReport> {
    const host = (this.o.host ?? hostMemory)();
    const guests = [];
    const list = await this.driver.list();
    const known = new Set(list.map((g) => g.id));
    for (const id of [...this.targets.keys()]) if (!known.has(id)) this.targets.delete(id);
    for (const g of list) {
      if (g.state !== GuestState.running) continue;
      const m = await this.driver.metrics(g.id);
      const st = await this.driver.memoryStats(g.id).catch(() => undefined);
      guests.push({
        id: g.id,
        memoryMiB: g.spec.memoryMiB,
        balloonMiB: m.balloonMiB,
        minMiB: g.spec.minMemoryMiB ?? Math.min(g.spec.memoryMiB, 128),
        usedMiB: st && Number.isFinite(st.availableMiB) ? st.totalMiB - st.availableMiB : undefined,
        ceilingMiB: this.targets.get(g.id),
      });
    }
    const decisions = balloonRound(host, guests, this.o.policy ?? DEFAULT_BALLOON_POLICY);
    for (const d of decisions) await this.driver.setBalloon(d.id, d.toMiB);
    let ksm = readKsm();
    let ksmReason = 'not managed';
    if (this.o.manageKsm && ksm.available) {
      const k = ksmDecision(host, ksm.run);
      ksmReason = k.reason;
      if (k.run !== ksm.run) {
        setKsm(k.run);
        ksm = readKsm();
      }
    }
    this.last = { at: new Date().toISOString(), host, ksm, balloon: decisions, ksmReason };
    return this.last;
  }
}
