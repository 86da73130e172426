/**
 * The simulated hypervisor driver: guests exist in memory, time comes from a Clock. Same state
 * machine and errors as the QEMU driver (checked by the shared conformance suite).
 */
import {
  checkGuestSpec,
  DriverError,
  GuestState,
  type GuestInfo,
  type GuestMetrics,
  type GuestSpec,
  type HypervisorDriver,
} from '../../core/hypervisor.ts';
import type { Clock } from '../../runtime/clock.ts';

interface SimGuest {
  spec: GuestSpec;
  state: GuestState;
  snapshots: Map<string, { state: GuestState; balloonMiB: number }>;
  balloonMiB: number;
  cpuTimeS: number;
  runningSince?: number;
}

export class SimHypervisorDriver implements HypervisorDriver {
  readonly kind = 'sim';
  readonly accel = 'sim';
  private readonly guests = new Map<string, SimGuest>();

  /** @param cpuShare CPU seconds a running guest consumes per second (for metrics). */
  constructor(
    private readonly clock: Clock,
    private readonly cpuShare = 0.1,
  ) {}

  private need(id: string): SimGuest {
    const g = this.guests.get(id);
    if (!g) throw new DriverError('NOT_FOUND', `No guest "${id}"`, id);
    return g;
  }

  private expect(id: string, g: SimGuest, ok: GuestState[], action: string): void {
    if (!ok.includes(g.state))
      throw new DriverError('INVALID_STATE', `Cannot ${action} guest "${id}": it is ${g.state}`, id);
  }

  private settle(g: SimGuest): void {
    if (g.runningSince !== undefined) {
      g.cpuTimeS += (this.clock.now() - g.runningSince) * this.cpuShare;
      g.runningSince = g.state === GuestState.running ? this.clock.now() : undefined;
    }
  }

  private info(g: SimGuest): GuestInfo {
    return { id: g.spec.id, state: g.state, spec: g.spec, snapshots: [...g.snapshots.keys()] };
  }

  async create(spec: GuestSpec): Promise<GuestInfo> {
    const errs = checkGuestSpec(spec);
    if (errs.length) throw new DriverError('BAD_SPEC', `Bad guest spec: ${errs.join('; ')}`, spec.id);
    if (this.guests.has(spec.id))
      throw new DriverError('ALREADY_EXISTS', `Guest "${spec.id}" already exists`, spec.id);
    const g: SimGuest = {
      spec,
      state: GuestState.shutoff,
      snapshots: new Map(),
      balloonMiB: spec.memoryMiB,
      cpuTimeS: 0,
    };
    this.guests.set(spec.id, g);
    return this.info(g);
  }

  async get(id: string) {
    const g = this.guests.get(id);
    return g && this.info(g);
  }
  async list() {
    return [...this.guests.values()].map((g) => this.info(g));
  }

  async start(id: string) {
    const g = this.need(id);
    this.expect(id, g, [GuestState.shutoff, GuestState.crashed], 'start');
    g.state = GuestState.running;
    g.balloonMiB = g.spec.memoryMiB;
    g.runningSince = this.clock.now();
  }

  async stop(id: string) {
    const g = this.need(id);
    this.expect(id, g, [GuestState.running, GuestState.paused], 'stop');
    this.settle(g);
    g.state = GuestState.shutoff;
    g.runningSince = undefined;
  }

  async pause(id: string) {
    const g = this.need(id);
    this.expect(id, g, [GuestState.running], 'pause');
    this.settle(g);
    g.state = GuestState.paused;
    g.runningSince = undefined;
  }

  async resume(id: string) {
    const g = this.need(id);
    this.expect(id, g, [GuestState.paused], 'resume');
    g.state = GuestState.running;
    g.runningSince = this.clock.now();
  }

  async reboot(id: string) {
    const g = this.need(id);
    this.expect(id, g, [GuestState.running], 'reboot');
    g.balloonMiB = g.spec.memoryMiB;
  }

  async snapshot(id: string, name: string) {
    const g = this.need(id);
    this.expect(id, g, [GuestState.running, GuestState.paused, GuestState.shutoff], 'snapshot');
    if (!/^[a-zA-Z0-9_.-]{1,64}$/.test(name))
      throw new DriverError(
        'BAD_SPEC',
        `Bad snapshot name "${name}": use 1-64 letters, digits, '.', '_' or '-'`,
        id,
      );
    g.snapshots.set(name, { state: g.state, balloonMiB: g.balloonMiB });
  }

  async deleteSnapshot(id: string, name: string) {
    const g = this.need(id);
    if (!g.snapshots.delete(name))
      throw new DriverError('NOT_FOUND', `Guest "${id}" has no snapshot "${name}"`, id);
  }

  async restore(id: string, name: string) {
    const g = this.need(id);
    const s = g.snapshots.get(name);
    if (!s) throw new DriverError('NOT_FOUND', `Guest "${id}" has no snapshot "${name}"`, id);
    this.expect(id, g, [GuestState.running, GuestState.paused, GuestState.shutoff], 'restore');
    this.settle(g);
    g.balloonMiB = s.balloonMiB;
    if (g.state === GuestState.shutoff && s.state !== GuestState.shutoff) g.runningSince = this.clock.now();
    g.state = s.state === GuestState.shutoff ? g.state : s.state;
  }

  async delete(id: string) {
    this.need(id);
    this.guests.delete(id);
  }

  async setBalloon(id: string, targetMiB: number) {
    const g = this.need(id);
    this.expect(id, g, [GuestState.running], 'balloon');
    const min = g.spec.minMemoryMiB ?? 64;
    if (!(targetMiB >= min && targetMiB <= g.spec.memoryMiB))
      throw new DriverError(
        'BAD_SPEC',
        `Balloon target ${targetMiB} MiB for "${id}" must be in ${min}..${g.spec.memoryMiB} MiB`,
        id,
      );
    g.balloonMiB = targetMiB;
  }

  async metrics(id: string): Promise<GuestMetrics> {
    const g = this.need(id);
    this.settle(g);
    const on = g.state === GuestState.running || g.state === GuestState.paused;
    return {
      state: g.state,
      cpuTimeS: g.cpuTimeS,
      memoryMiB: g.spec.memoryMiB,
      balloonMiB: on ? g.balloonMiB : 0,
      rssMiB: on ? g.balloonMiB : 0,
    };
  }

  /** Simulation hook: the guest's host failed or its process died. */
  crash(id: string): void {
    const g = this.need(id);
    this.settle(g);
    g.state = GuestState.crashed;
    g.runningSince = undefined;
  }

  async close() {}
}
