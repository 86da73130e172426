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
  constructor(
    private readonly driver: QemuDriver,
    private readonly o: {
      manageKsm: boolean;
      policy?: BalloonPolicyOptions;
      host?: () => { totalMiB: number; freeMiB: number };
    } = { manageKsm: false },
  ) {}

  /** One round: decide and apply. */
  async round(): Promise<MemoryReport> {
    const host = (this.o.host ?? hostMemory)();
    const guests = [];
    for (const g of await this.driver.list()) {
      if (g.state !== GuestState.running) continue;
      const m = await this.driver.metrics(g.id);
      const st = await this.driver.memoryStats(g.id).catch(() => undefined);
      guests.push({
        id: g.id,
        memoryMiB: g.spec.memoryMiB,
        balloonMiB: m.balloonMiB,
        minMiB: g.spec.minMemoryMiB ?? Math.min(g.spec.memoryMiB, 128),
        usedMiB: st && Number.isFinite(st.availableMiB) ? st.totalMiB - st.availableMiB : undefined,
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
