/**
 * One simulated host's driver: a view of the shared simulated driver that sees only the guests this
 * host runs, migrates them to other simulated hosts at once with the figures the live-migration
 * models predict, and switches simulated hosts on and off.
 */
import type {
  HostDriver,
  HostRef,
  HostVolume,
  MigrateRequest,
  MigrationReport,
  PowerResult,
} from '../../core/host-driver.ts';
import { DriverError, GuestState, type GuestInfo, type GuestSpec } from '../../core/hypervisor.ts';
import { predictBlockMigration } from '../../models/migration-disk.ts';
import { DEFAULT_LOAD_OPTIONS } from '../../policies/plans/load-plan.ts';
import type { ConsoleLogOptions, ConsoleStream } from '../../core/console.ts';
import { SimConsoles } from './sim-console.ts';
import type { SimHypervisorDriver } from './sim-driver.ts';
import type { HostNetworkState } from '../../core/network/host-network.ts';
import type { GuestDisk, VolumeSpec } from '../../core/storage/host-storage.ts';

/** The console transcripts of each simulated hypervisor's guests (shared by its host views). */
const consoles = new WeakMap<SimHypervisorDriver, SimConsoles>();

/** CPU utilization assumed for a VM with no measurement (what the control plane assumes too). */
const ASSUMED_UTILIZATION = 0.1;
/** Disk write rate assumed for a VM at full CPU, MiB/s (scaled by its utilization; an assumption). */
const WRITE_MIBPS_AT_FULL_CPU = 20;

export class SimHostDriver implements HostDriver {
  readonly kind = 'sim';
  readonly accel = 'sim';

  constructor(
    private readonly sim: SimHypervisorDriver,
    readonly host: HostRef,
  ) {}

  /** The guest, if this host runs it; NOT_FOUND otherwise (as another host's agent would answer). */
  private mine(id: string): string {
    this.up();
    if (this.sim.hostOf(id) !== this.host.id)
      throw new DriverError('NOT_FOUND', `No guest "${id}" on ${this.host.name}`, id);
    return id;
  }

  /** A switched-off host answers nothing. */
  private up(): void {
    if (!this.sim.isOn(this.host.id))
      throw new DriverError('BACKEND', `Simulated host ${this.host.name} is switched off`);
  }

  async create(spec: GuestSpec): Promise<GuestInfo> {
    this.up();
    // A simulated guest id lives on one host: building it here (an HA restart after its host failed)
    // replaces the stale copy the other host held.
    const elsewhere = this.sim.hostOf(spec.id);
    if (elsewhere !== undefined && elsewhere !== this.host.id) await this.sim.delete(spec.id);
    const g = await this.sim.create(spec);
    this.sim.assign(spec.id, this.host.id);
    return g;
  }
  async get(id: string) {
    this.up();
    return this.sim.hostOf(id) === this.host.id ? this.sim.get(id) : undefined;
  }
  async list() {
    this.up();
    return (await this.sim.list()).filter((g) => this.sim.hostOf(g.id) === this.host.id);
  }
  start(id: string) {
    return this.sim.start(this.mine(id));
  }
  stop(id: string) {
    return this.sim.stop(this.mine(id));
  }
  pause(id: string) {
    return this.sim.pause(this.mine(id));
  }
  resume(id: string) {
    return this.sim.resume(this.mine(id));
  }
  reboot(id: string) {
    return this.sim.reboot(this.mine(id));
  }
  snapshot(id: string, name: string) {
    return this.sim.snapshot(this.mine(id), name);
  }
  restore(id: string, name: string) {
    return this.sim.restore(this.mine(id), name);
  }
  listSnapshots(id: string) {
    return this.sim.listSnapshots(this.mine(id));
  }
  deleteSnapshot(id: string, name: string) {
    return this.sim.deleteSnapshot(this.mine(id), name);
  }
  delete(id: string) {
    this.consoles().forget(id);
    return this.sim.delete(this.mine(id));
  }
  setBalloon(id: string, targetMiB: number) {
    return this.sim.setBalloon(this.mine(id), targetMiB);
  }
  metrics(id: string) {
    return this.sim.metrics(this.mine(id));
  }
  /** A deterministic synthetic profile of a running guest (sim-memory-profile.ts). */
  async memoryProfile(id: string, o?: { sampleBits?: number }) {
    return this.sim.memoryProfile(this.mine(id), o);
  }

  private consoles(): SimConsoles {
    let c = consoles.get(this.sim);
    if (!c) consoles.set(this.sim, (c = new SimConsoles()));
    return c;
  }
  /** A simulated boot log (and what console sessions showed). */
  async consoleLog(id: string, options: ConsoleLogOptions = {}) {
    const g = (await this.get(this.mine(id)))!;
    return this.consoles().log(g.spec, options);
  }
  /** A simulated shell on the guest's console (running or paused guests only). */
  async openConsole(id: string): Promise<ConsoleStream> {
    const g = (await this.get(this.mine(id)))!;
    if (g.state !== GuestState.running && g.state !== GuestState.paused)
      throw new DriverError('INVALID_STATE', `Guest "${id}" is ${g.state}: its console is closed`, id);
    return this.consoles().open(id);
  }

  /**
   * Move a running guest to another simulated host at once. The report carries what the
   * live-migration models predict for it (its memory, a dirty rate that follows its CPU), so
   * timelines show durations.
   */
  async migrate(id: string, target: HostRef, request: MigrateRequest): Promise<MigrationReport> {
    const g = (await this.get(this.mine(id)))!;
    // A paused guest migrates too (QEMU's does) and stays paused on the target.
    if (g.state !== GuestState.running && g.state !== GuestState.paused)
      throw new DriverError('INVALID_STATE', `Cannot migrate guest "${id}": it is ${g.state}`, id);
    if (target.driver !== 'sim')
      throw new DriverError(
        'BAD_SPEC',
        `Cannot migrate guest "${id}" from simulated host ${this.host.name} to ${target.driver} host ${target.name}`,
        id,
      );
    if (target.id === this.host.id)
      throw new DriverError('BAD_SPEC', `Guest "${id}" already runs on ${target.name}`, id);
    if (!this.sim.isOn(target.id))
      throw new DriverError('BACKEND', `Simulated host ${target.name} is switched off`, id);
    const cpu = request.cpuUtilization ?? ASSUMED_UTILIZATION;
    // Attached volumes in local pools are mirrored first (unless the request says the disks are
    // shared); a VM without them moves only its memory, as before.
    const local =
      request.disks === 'shared' ? [] : (g.spec.disks ?? []).filter((d) => d.pool.kind === 'local');
    const localGiB = local.reduce((s, d) => s + d.sizeGiB, 0);
    const dirtyMiBps = cpu * DEFAULT_LOAD_OPTIONS.maxDirtyMiBps;
    const m = predictBlockMigration(
      {
        memMiB: g.spec.memoryMiB,
        dirtyMiBps,
        bandwidthMbps: request.bandwidthMbps ?? 1000,
        diskBytes: localGiB * 2 ** 30,
        writeMiBps: localGiB ? cpu * WRITE_MIBPS_AT_FULL_CPU : 0,
      },
      { mode: request.mode ?? 'precopy' },
    );
    for (const d of local) this.sim.storage.move(this.host.id, target.id, d.pool.name, d.volumeId);
    this.sim.assign(id, target.id);
    return {
      status: 'completed',
      modeUsed: 'simulated',
      modeled: true,
      disks: request.disks ?? 'shared',
      totalMs: Math.round(m.totalMs),
      downtimeMs: Math.round(m.downtimeMs),
      bytes: Math.round(m.bytes),
      ...(localGiB ? { diskBytes: Math.round(m.diskBytes), mirrorMs: Math.round(m.mirrorMs) } : {}),
    };
  }

  /** Switch a simulated host on or off (its simulated BMC answers even when it is off). */
  async power(action: 'on' | 'off', target: HostRef): Promise<PowerResult> {
    if (target.driver !== 'sim')
      throw new DriverError(
        'BAD_SPEC',
        `A simulated host cannot switch ${target.driver} host ${target.name}`,
      );
    this.sim.setPower(target.id, action === 'on');
    return { exitCode: 0, output: `simulated host ${target.name} switched ${action}` };
  }

  /** Keep the state (a simulated host plumbs nothing); an older revision than the kept one is ignored. */
  async applyNetwork(state: HostNetworkState): Promise<void> {
    this.up();
    this.sim.setNetwork(this.host.id, state);
  }
  // Storage: volumes kept as data (sim-storage.ts); attached disks are part of the guest's spec.
  async createVolume(spec: VolumeSpec): Promise<HostVolume> {
    this.up();
    return this.sim.storage.create(this.host.id, spec);
  }
  async deleteVolume(pool: string, id: string): Promise<void> {
    this.up();
    this.sim.storage.delete(this.host.id, pool, id);
  }
  async listVolumes(pool: string): Promise<HostVolume[]> {
    this.up();
    return this.sim.storage.list(this.host.id, pool);
  }
  async snapshotVolume(pool: string, id: string, name: string): Promise<void> {
    this.up();
    this.sim.storage.snapshot(this.host.id, pool, id, name);
  }
  async deleteVolumeSnapshot(pool: string, id: string, name: string): Promise<void> {
    this.up();
    this.sim.storage.deleteSnapshot(this.host.id, pool, id, name);
  }
  /** Plug a volume this host sees into a guest of this host (hot-plug when it runs: the same data here). */
  async attachVolume(guestId: string, disk: GuestDisk): Promise<void> {
    const g = (await this.get(this.mine(guestId)))!;
    if (!this.sim.storage.find(this.host.id, disk.pool.name, disk.volumeId))
      throw new DriverError(
        'NOT_FOUND',
        `No volume "${disk.volumeId}" in pool "${disk.pool.name}" on ${this.host.name}`,
        guestId,
      );
    const disks = (g.spec.disks ?? []).filter((d) => d.volumeId !== disk.volumeId);
    this.sim.setDisks(guestId, [...disks, structuredClone(disk)]);
  }
  async detachVolume(guestId: string, volumeId: string): Promise<void> {
    const g = (await this.get(this.mine(guestId)))!;
    this.sim.setDisks(
      guestId,
      (g.spec.disks ?? []).filter((d) => d.volumeId !== volumeId),
    );
  }

  /** The network state this host was last given (the empty state if none). */
  network(): HostNetworkState {
    return this.sim.networkOf(this.host.id);
  }
  async close() {}
}
