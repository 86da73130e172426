/**
 * The simulated hypervisor driver: guests exist in memory, time comes from a Clock. Same state
 * machine and errors as the QEMU driver (checked by the shared conformance suite). One driver holds
 * the guests of every simulated host (which host runs which guest is recorded for the per-host views
 * of sim-host-driver.ts); with a state file, the guests outlive the process that drives them, as a
 * real host's guests outlive a control-plane crash.
 */
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
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
import { emptyHostNetworkState, type HostNetworkState } from '../../core/network/host-network.ts';
import type { GuestDisk } from '../../core/storage/host-storage.ts';
import { SimStorage, type SimVolume } from './sim-storage.ts';
import type { GuestMemoryProfile } from '../../core/memory/profile.ts';
import { simMemoryProfile } from './sim-memory-profile.ts';

interface SimGuest {
  spec: GuestSpec;
  state: GuestState;
  snapshots: Map<string, { state: GuestState; balloonMiB: number }>;
  balloonMiB: number;
  cpuTimeS: number;
  runningSince?: number;
  /** The simulated host that runs the guest (set by a host view). */
  hostId?: string;
}

/** Options of the simulated driver (all optional). */
export interface SimDriverOptions {
  /** CPU seconds a running guest consumes per second (for metrics). Default 0.1. */
  cpuShare?: number;
  /** JSON file that keeps the guests (and which hosts are switched off) across restarts. */
  stateFile?: string;
}

type SavedGuest = Omit<SimGuest, 'snapshots'> & {
  snapshots: [string, { state: GuestState; balloonMiB: number }][];
};
interface SavedState {
  guests: SavedGuest[];
  off: string[];
  /** The network state each simulated host was last given. */
  networks?: [string, HostNetworkState][];
  /** The simulated hosts' volumes (sim-storage.ts). */
  volumes?: [string, SimVolume][];
}
const savedGuest = (g: SimGuest): SavedGuest => ({ ...g, snapshots: [...g.snapshots] });
const loadedGuest = (g: SavedGuest): SimGuest => ({ ...g, snapshots: new Map(g.snapshots) });

export class SimHypervisorDriver implements HypervisorDriver {
  readonly kind = 'sim';
  readonly accel = 'sim';
  private readonly guests = new Map<string, SimGuest>();
  /** Simulated hosts that are switched off. */
  private readonly off = new Set<string>();
  /** The network state each simulated host was last given (host id → state). */
  private readonly networks = new Map<string, HostNetworkState>();
  /** Every simulated host's volumes (saved with the guests). */
  readonly storage = new SimStorage(() => this.save());
  private readonly cpuShare: number;

  constructor(
    private readonly clock: Clock,
    private readonly options: SimDriverOptions = {},
  ) {
    this.cpuShare = options.cpuShare ?? 0.1;
    if (options.stateFile) this.load(options.stateFile);
  }

  /** Journal lines written since the last full state file. */
  private journalLines = 0;

  /**
   * Keep the state across restarts, if there is a state file: a change to one guest appends one
   * line to `FILE.log` (constant cost however many guests there are). Other changes, and a journal
   * that has grown past as many lines as there are guests (at least 1,024, so whole writes are
   * amortized), write the whole state to FILE atomically (a crash leaves the old or the new one)
   * and empty the journal. Every line is a guest's whole state, so replaying a journal over a newer
   * state file changes nothing.
   */
  private save(id?: string): void {
    const file = this.options.stateFile;
    if (!file) return;
    if (id !== undefined && this.journalLines < Math.max(1024, this.guests.size)) {
      const g = this.guests.get(id);
      appendFileSync(`${file}.log`, JSON.stringify({ id, g: g ? savedGuest(g) : null }) + '\n');
      this.journalLines++;
      return;
    }
    const state: SavedState = {
      guests: [...this.guests.values()].map(savedGuest),
      off: [...this.off],
      networks: [...this.networks],
      volumes: this.storage.entries(),
    };
    writeFileSync(`${file}.tmp`, JSON.stringify(state));
    renameSync(`${file}.tmp`, file);
    writeFileSync(`${file}.log`, '');
    this.journalLines = 0;
  }

  /** Read the state file and replay its journal (a torn last line, from a crash mid-write, is skipped). */
  private load(file: string): void {
    if (existsSync(file)) {
      const saved = JSON.parse(readFileSync(file, 'utf8')) as SavedState;
      for (const g of saved.guests) this.guests.set(g.spec.id, loadedGuest(g));
      for (const h of saved.off) this.off.add(h);
      for (const [h, n] of saved.networks ?? []) this.networks.set(h, n);
      this.storage.load(saved.volumes ?? []);
    }
    if (!existsSync(`${file}.log`)) return;
    for (const line of readFileSync(`${file}.log`, 'utf8').split('\n')) {
      if (!line) continue;
      let e: { id: string; g: SavedGuest | null };
      try {
        e = JSON.parse(line) as typeof e;
      } catch {
        continue;
      }
      if (e.g) this.guests.set(e.id, loadedGuest(e.g));
      else this.guests.delete(e.id);
      this.journalLines++;
    }
  }

  /** Set the disks (attached volumes) of a guest's definition. */
  setDisks(id: string, disks: GuestDisk[]): void {
    this.need(id).spec.disks = disks;
    this.save(id);
  }

  /** The simulated host a guest runs on (undefined: none recorded). */
  hostOf(id: string): string | undefined {
    return this.guests.get(id)?.hostId;
  }

  /** Record that `hostId` runs the guest (a host view created it, or a migration moved it). */
  assign(id: string, hostId: string): void {
    this.need(id).hostId = hostId;
    this.save(id);
  }

  /** Keep a simulated host's network state (one older than the kept one is ignored, as an agent does). */
  setNetwork(hostId: string, state: HostNetworkState): void {
    const had = this.networks.get(hostId);
    if (had && had.revision > state.revision) return;
    this.networks.set(hostId, structuredClone(state));
    this.save();
  }

  /** The network state a simulated host was last given (the empty state if none). */
  networkOf(hostId: string): HostNetworkState {
    return structuredClone(this.networks.get(hostId) ?? emptyHostNetworkState());
  }

  /** Whether a simulated host is switched on. */
  isOn(hostId: string): boolean {
    return !this.off.has(hostId);
  }

  /** Switch a simulated host on or off; its guests crash when it goes off, as on real hardware. */
  setPower(hostId: string, on: boolean): void {
    if (on) this.off.delete(hostId);
    else {
      this.off.add(hostId);
      for (const g of this.guests.values())
        if (g.hostId === hostId && g.state !== GuestState.shutoff) {
          this.settle(g);
          g.state = GuestState.crashed;
          g.runningSince = undefined;
        }
    }
    this.save();
  }

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
    this.save(spec.id);
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
    this.save(id);
  }

  async stop(id: string) {
    const g = this.need(id);
    this.expect(id, g, [GuestState.running, GuestState.paused], 'stop');
    this.settle(g);
    g.state = GuestState.shutoff;
    g.runningSince = undefined;
    this.save(id);
  }

  async pause(id: string) {
    const g = this.need(id);
    this.expect(id, g, [GuestState.running], 'pause');
    this.settle(g);
    g.state = GuestState.paused;
    g.runningSince = undefined;
    this.save(id);
  }

  async resume(id: string) {
    const g = this.need(id);
    this.expect(id, g, [GuestState.paused], 'resume');
    g.state = GuestState.running;
    g.runningSince = this.clock.now();
    this.save(id);
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
    this.save(id);
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
    this.save(id);
  }

  async listSnapshots(id: string) {
    return [...this.need(id).snapshots.keys()];
  }

  async deleteSnapshot(id: string, name: string) {
    const g = this.need(id);
    if (!g.snapshots.delete(name))
      throw new DriverError('NOT_FOUND', `Guest "${id}" has no snapshot "${name}"`, id);
    this.save(id);
  }

  async delete(id: string) {
    this.need(id);
    this.guests.delete(id);
    this.save(id);
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
    this.save(id);
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

  /**
   * A running guest's memory profile: synthetic and deterministic (sim-memory-profile.ts).
   * @throws DriverError NOT_FOUND, INVALID_STATE (not running), BAD_SPEC (sampleBits)
   */
  async memoryProfile(id: string, o: { sampleBits?: number } = {}): Promise<GuestMemoryProfile> {
    const g = this.need(id);
    this.expect(id, g, [GuestState.running], 'profile the memory of');
    try {
      return simMemoryProfile(g.spec, new Date(this.clock.now()).toISOString(), o.sampleBits);
    } catch (e) {
      throw new DriverError('BAD_SPEC', (e as Error).message, id);
    }
  }

  /** Simulation hook: the guest's host failed or its process died. */
  crash(id: string): void {
    const g = this.need(id);
    this.settle(g);
    g.state = GuestState.crashed;
    g.runningSince = undefined;
    this.save(id);
  }

  async close() {}
}
