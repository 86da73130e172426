/**
 * The QEMU/KVM hypervisor driver: one daemonized QEMU process per guest, controlled over QMP.
 * Everything about a guest lives in STATE/guests/ID/ (spec.json, desired, qemu.pid, qmp.sock,
 * serial.log, disk.qcow2, snapshots.json), so a restarted driver re-adopts running guests instead
 * of starting duplicates. KVM is used only when a probe boot shows it works; TCG otherwise.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  checkGuestSpec,
  DriverError,
  GuestState,
  type GuestInfo,
  type GuestMemoryStats,
  type GuestMetrics,
  type GuestSpec,
  type HypervisorDriver,
} from '../../core/hypervisor.ts';
import {
  checkGuestId,
  checkSnapshotName,
  guestFolder,
  GUEST_ID_PATTERN,
  resolveInside,
} from './host-paths.ts';
import type { GuestDisk } from '../../core/storage/host-storage.ts';
import { diskArgs, hotPlug, hotUnplug, liveVolumeSnapshot, type SlottedDisk } from './guest-disks.ts';
import type { ImageCache } from './image-cache.ts';
import { QmpClient } from './qmp-client.ts';
import type { HostPools } from './storage-pools.ts';
import type { GuestMemoryProfile } from '../../core/memory/profile.ts';
import { PAGES_PER_MIB } from '../../core/memory/fingerprint.ts';
import { scanGuestMemory, type PageSamplerOptions } from './page-sampler.ts';

export type Accel = 'kvm' | 'tcg';

export interface QemuDriverOptions {
  /** Folder for guest state (created if missing). */
  stateDir: string;
  /**
   * Folders guest kernels, initrds and disks may come from; any other file (or a symlink pointing
   * out of them) is refused. Empty: no image files at all.
   */
  imageDirs: readonly string[];
  /**
   * Folders where an incoming migration finds a guest's disk and uses that file (other agents' state
   * folders on this machine or on shared storage; none found: the disk is mirrored over NBD).
   * Default: the folder holding `stateDir`.
   */
  migrationSourceDirs?: readonly string[];
  /** `kvm`, `tcg`, or `auto` (probe boot; cached in STATE/accel.json). Default auto. */
  accel?: Accel | 'auto';
  qemuBinary?: string;
  qemuImgBinary?: string;
  /** For the KVM probe: a bootable tiny guest. */
  probeImage?: { kernel: string; initrd?: string };
  probeTimeoutMs?: number;
  /** This host's storage pools (volumes attached as guest disks); none: guests have no volumes. */
  pools?: HostPools;
  /** Where registry images (`image.cached`) are downloaded and kept; none: such guests are refused. */
  imageCache?: ImageCache;
}

const run = (cmd: string, args: string[], timeoutMs = 30_000) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '',
      stderr = '';
    p.stdout.on('data', (d) => {
      stdout += d;
    });
    p.stderr.on('data', (d) => {
      stderr += d;
    });
    const t = setTimeout(() => {
      p.kill('SIGKILL');
    }, timeoutMs);
    p.on('error', (e) => {
      clearTimeout(t);
      reject(new DriverError('BACKEND', `Cannot run ${cmd}: ${e.message}`, undefined, { cause: e }));
    });
    p.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export class QemuDriver implements HypervisorDriver {
  readonly kind = 'qemu';
  private readonly qmp = new Map<string, QmpClient>();
  /** QMP connections being opened, by guest id. */
  private readonly qmpConnecting = new Map<string, Promise<QmpClient>>();
  private readonly qemu: string;
  private readonly qemuImg: string;

  private constructor(
    readonly opts: QemuDriverOptions,
    readonly accel: Accel,
  ) {
    this.qemu = opts.qemuBinary ?? 'qemu-system-x86_64';
    this.qemuImg = opts.qemuImgBinary ?? 'qemu-img';
  }

  /** Open a driver on a state folder, deciding the acceleration (probing KVM when asked). */
  static async open(opts: QemuDriverOptions): Promise<QemuDriver> {
    mkdirSync(join(opts.stateDir, 'guests'), { recursive: true });
    let accel: Accel;
    if (opts.accel === 'kvm' || opts.accel === 'tcg') accel = opts.accel;
    else accel = (await probeAccel(opts)).accel;
    return new QemuDriver(opts, accel);
  }

  /**
   * Folder of guest `id` (STATE/guests/ID).
   * @throws DriverError BAD_SPEC for an id that breaks the id rule or a folder that is a symlink
   */
  dir(id: string): string {
    return guestFolder(this.opts.stateDir, id);
  }

  /**
   * A guest's image files, resolved inside the image folders.
   * @throws DriverError BAD_SPEC for a missing file or one outside the image folders
   */
  resolveImage(spec: GuestSpec): GuestSpec['image'] {
    const r = (f: string | undefined, what: string) =>
      f === undefined ? undefined : resolveInside(this.opts.imageDirs, f, what, spec.id);
    return {
      ...spec.image,
      ...(spec.image.kernel !== undefined ? { kernel: r(spec.image.kernel, 'kernel') } : {}),
      ...(spec.image.initrd !== undefined ? { initrd: r(spec.image.initrd, 'initrd') } : {}),
      ...(spec.image.disk !== undefined ? { disk: r(spec.image.disk, 'disk image') } : {}),
    };
  }
  /** Serial console log of a guest (the tiny guest's heartbeat and self-checks). */
  serialLog(id: string): string {
    return join(this.dir(id), 'serial.log');
  }
  qmpPath(id: string): string {
    return join(this.dir(id), 'qmp.sock');
  }

  private readSpec(id: string): GuestSpec | undefined {
    try {
      return JSON.parse(readFileSync(join(this.dir(id), 'spec.json'), 'utf8'));
    } catch {
      return undefined;
    }
  }

  private snapshots(id: string): string[] {
    try {
      return JSON.parse(readFileSync(join(this.dir(id), 'snapshots.json'), 'utf8'));
    } catch {
      return [];
    }
  }

  /** PID of the guest's QEMU if it is alive and really is that guest's process. */
  pid(id: string): number | undefined {
    let pid: number;
    try {
      pid = Number(readFileSync(join(this.dir(id), 'qemu.pid'), 'utf8').trim());
    } catch {
      return undefined;
    }
    if (!(pid > 0) || !alive(pid)) return undefined;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes(`guest=${id}`)) return undefined;
    } catch {
      return undefined;
    }
    return pid;
  }

  /** QMP client of a running guest (connects, or reconnects after a restart). */
  async client(id: string): Promise<QmpClient> {
    const c = this.qmp.get(id);
    if (c && !c.isClosed) return c;
    if (this.pid(id) === undefined)
      throw new DriverError('INVALID_STATE', `Guest "${id}" has no running QEMU process`, id);
    // One connection attempt at a time per guest: QEMU's monitor serves one client, so a second
    // concurrent connect (a heartbeat's state read during a start) would wait for a greeting in vain.
    const pending = this.qmpConnecting.get(id);
    if (pending) return pending;
    const p = QmpClient.connect(this.qmpPath(id), 5000)
      .then((n) => {
        this.qmp.set(id, n);
        return n;
      })
      .finally(() => this.qmpConnecting.delete(id));
    this.qmpConnecting.set(id, p);
    return p;
  }

  private async state(id: string): Promise<GuestState> {
    if (this.pid(id) === undefined) {
      let desired = 'shutoff';
      try {
        desired = readFileSync(join(this.dir(id), 'desired'), 'utf8').trim();
      } catch {
        /* none */
      }
      return desired === 'running' ? GuestState.crashed : GuestState.shutoff;
    }
    try {
      const s = await (await this.client(id)).execute<{ status: string; running: boolean }>('query-status');
      if (s.running) return GuestState.running;
      if (s.status === 'shutdown') return GuestState.shutoff;
      return GuestState.paused;
    } catch {
      return this.pid(id) === undefined ? GuestState.crashed : GuestState.paused;
    }
  }

  async get(id: string): Promise<GuestInfo | undefined> {
    const spec = this.readSpec(id);
    if (!spec) return undefined;
    return { id, state: await this.state(id), spec, snapshots: this.snapshots(id) };
  }

  async list(): Promise<GuestInfo[]> {
    const ids = existsSync(join(this.opts.stateDir, 'guests'))
      ? readdirSync(join(this.opts.stateDir, 'guests'))
          .filter((n) => GUEST_ID_PATTERN.test(n))
          .sort()
      : [];
    const out: GuestInfo[] = [];
    for (const id of ids) {
      const g = await this.get(id);
      if (g) out.push(g);
    }
    return out;
  }

  private async need(id: string): Promise<GuestInfo> {
    const g = await this.get(id);
    if (!g) throw new DriverError('NOT_FOUND', `No guest "${id}"`, id);
    return g;
  }

  private expect(g: GuestInfo, ok: GuestState[], action: string): void {
    if (!ok.includes(g.state))
      throw new DriverError('INVALID_STATE', `Cannot ${action} guest "${g.id}": it is ${g.state}`, g.id);
  }

  async create(spec: GuestSpec): Promise<GuestInfo> {
    const errs = checkGuestSpec(spec);
    if (errs.length) throw new DriverError('BAD_SPEC', `Bad guest spec: ${errs.join('; ')}`, spec.id);
    if (this.readSpec(spec.id))
      throw new DriverError('ALREADY_EXISTS', `Guest "${spec.id}" already exists`, spec.id);
    const image = this.resolveImage(spec);
    // Volumes must exist in this host's pools (checked again at every start), one writer each.
    if (spec.disks?.length) diskArgs(spec, this.opts.pools);
    for (const disk of spec.disks ?? []) {
      const [other] = await this.volumeUsers(disk.pool.name, disk.volumeId);
      if (other)
        throw new DriverError(
          'INVALID_STATE',
          `Volume "${disk.volumeId}" is attached to guest "${other.id}"; detach it first`,
          spec.id,
        );
    }
    // A registry image: fetched once into the cache, verified, then the root disk is an overlay on it.
    let base: { path: string; format: 'qcow2' | 'raw' } | undefined;
    if (!image.kernel && !image.disk && image.cached) {
      if (!this.opts.imageCache)
        throw new DriverError('BAD_SPEC', 'This host has no image cache for registry images', spec.id);
      base = await this.opts.imageCache.get(image.cached, spec.id);
    } else if (image.disk) base = { path: image.disk, format: 'qcow2' };
    // Again: another create of this id may have finished during the download.
    if (this.readSpec(spec.id))
      throw new DriverError('ALREADY_EXISTS', `Guest "${spec.id}" already exists`, spec.id);
    const d = this.dir(spec.id);
    mkdirSync(d, { recursive: true });
    // A per-guest qcow2 holds internal snapshots (VM state and disk); backed by the image's disk if any.
    const args = base
      ? ['create', '-q', '-f', 'qcow2', '-F', base.format, '-b', base.path, join(d, 'disk.qcow2')]
      : ['create', '-q', '-f', 'qcow2', join(d, 'disk.qcow2'), '64M'];
    const r = await run(this.qemuImg, args);
    if (r.code !== 0) {
      rmSync(d, { recursive: true, force: true });
      throw new DriverError('BACKEND', `qemu-img create failed: ${r.stderr.trim()}`, spec.id);
    }
    writeFileSync(join(d, 'spec.json'), JSON.stringify(spec, null, 2));
    writeFileSync(join(d, 'desired'), 'shutoff');
    return { id: spec.id, state: GuestState.shutoff, spec, snapshots: [] };
  }

  /** QEMU arguments for a guest (the destination of a migration adds `-incoming defer`). */
  qemuArgs(spec: GuestSpec, dir: string, extra: string[] = []): string[] {
    // Tap names and MACs go into QEMU option strings: nothing but the contract's shapes may get there.
    for (const n of spec.nics ?? [])
      if (!/^nt[0-9a-f]{8}$/.test(n.tap) || !/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(n.mac))
        throw new DriverError(
          'BAD_SPEC',
          `Bad NIC ${JSON.stringify(n).slice(0, 120)}: tap ntXXXXXXXX, MAC aa:bb:cc:dd:ee:ff`,
          spec.id,
        );
    const w = spec.workload;
    const append = [
      'console=ttyS0',
      'quiet',
      'panic=-1',
      w ? `nubis.mib=${w.mib} nubis.rate=${w.rateMiBps}` : '',
      // Whole numbers only (checkGuestSpec): nothing else reaches the kernel command line.
      w?.fill ? `nubis.fill=${Math.trunc(w.fill.seed)}:${Math.trunc(w.fill.mib)}` : '',
      spec.image.append ?? '',
    ]
      .filter(Boolean)
      .join(' ');
    return [
      '-name',
      `guest=${spec.id},debug-threads=on`,
      '-machine',
      `q35,accel=${this.accel}${spec.mergeable === false ? ',mem-merge=off' : ''}`,
      '-cpu',
      this.accel === 'kvm' ? 'host' : 'qemu64',
      '-m',
      `${spec.memoryMiB}M`,
      '-smp',
      String(spec.vcpus),
      ...(spec.image.kernel
        ? [
            '-kernel',
            spec.image.kernel,
            ...(spec.image.initrd ? ['-initrd', spec.image.initrd] : []),
            '-append',
            append,
          ]
        : ['-boot', 'c']),
      '-display',
      'none',
      '-nodefaults',
      // The serial port: logged to serial.log (appended across restarts and migrations) and
      // reachable interactively on console.sock (the agent bridges a WebSocket to it).
      '-chardev',
      `socket,id=ser0,path=${join(dir, 'console.sock')},server=on,wait=off,logfile=${join(dir, 'serial.log')},logappend=on`,
      '-serial',
      'chardev:ser0',
      '-qmp',
      `unix:${join(dir, 'qmp.sock')},server=on,wait=off`,
      '-device',
      'virtio-balloon-pci,id=balloon0,free-page-reporting=on',
      '-drive',
      `file=${join(dir, 'disk.qcow2')},if=none,id=disk0,format=qcow2`,
      '-device',
      // The root disk boots before any volume (those are on root ports, enumerated later or not).
      `virtio-blk-pci,drive=disk0${spec.image.kernel ? '' : ',bootindex=0'}`,
      // PCIe root ports (hot-plug slots) and the guest's volumes, each on its own port.
      ...diskArgs(spec, this.opts.pools),
      // NICs: virtio-net on the taps the agent's network plumbing made (and bridged); none = no network.
      ...(spec.nics?.length
        ? spec.nics.flatMap((n, i) => [
            '-netdev',
            `tap,id=net${i},ifname=${n.tap},script=no,downscript=no`,
            '-device',
            `virtio-net-pci,netdev=net${i},mac=${n.mac}`,
          ])
        : ['-nic', 'none']),
      '-daemonize',
      '-pidfile',
      join(dir, 'qemu.pid'),
      ...extra,
    ];
  }

  /** Start QEMU for a guest folder; resolves when the process is up and QMP answers. */
  async launch(spec: GuestSpec, dir: string, extra: string[] = []): Promise<void> {
    checkGuestId(spec.id);
    // Checked again at every start: a file may have been swapped for a symlink since the create.
    const image = this.resolveImage(spec);
    rmSync(join(dir, 'qmp.sock'), { force: true });
    const r = await run(this.qemu, this.qemuArgs({ ...spec, image }, dir, extra));
    if (r.code !== 0)
      throw new DriverError(
        'BACKEND',
        `QEMU failed to start guest "${spec.id}": ${r.stderr.trim() || `exit ${r.code}`}`,
        spec.id,
      );
  }

  /** Replace a guest's stored spec (its disks after a hot-plug or an attach to a stopped guest). */
  saveSpec(spec: GuestSpec): void {
    writeFileSync(join(this.dir(spec.id), 'spec.json'), JSON.stringify(spec, null, 2));
  }

  /**
   * Attach a volume: hot-plugged into a running guest, or added to a stopped one's spec (attached at
   * its next start).
   * @throws DriverError NOT_FOUND (guest, pool, volume), INVALID_STATE (paused or migrating), BACKEND
   */
  async attachDisk(id: string, disk: GuestDisk): Promise<GuestInfo> {
    const g = await this.need(id);
    this.expect(g, [GuestState.running, GuestState.shutoff, GuestState.crashed], 'attach a volume to');
    const pools = this.opts.pools;
    if (!pools) throw new DriverError('BAD_SPEC', 'This host has no storage pools', id);
    pools.existing(disk.pool.name, disk.volumeId);
    const disks =
      g.state === GuestState.running
        ? await hotPlug(await this.client(id), g.spec, disk, pools)
        : [...((g.spec.disks ?? []) as SlottedDisk[]), disk];
    const spec = { ...g.spec, disks };
    diskArgs(spec, pools); // a second attach, too many disks, a bad serial: refused before saving
    this.saveSpec(spec);
    return (await this.get(id))!;
  }

  /** Detach a volume: unplugged from a running guest (the guest must release it), or dropped from the spec. */
  async detachDisk(id: string, volumeId: string, timeoutMs?: number): Promise<GuestInfo> {
    const g = await this.need(id);
    this.expect(g, [GuestState.running, GuestState.shutoff, GuestState.crashed], 'detach a volume from');
    const before = (g.spec.disks ?? []) as SlottedDisk[];
    if (!before.some((d) => d.volumeId === volumeId))
      throw new DriverError('NOT_FOUND', `Volume "${volumeId}" is not attached to "${id}"`, id);
    const disks =
      g.state === GuestState.running
        ? await hotUnplug(await this.client(id), g.spec, volumeId, timeoutMs)
        : before.filter((d) => d.volumeId !== volumeId);
    this.saveSpec({ ...g.spec, disks });
    return (await this.get(id))!;
  }

  /** Take (or `del`ete) an internal snapshot of a volume attached to running or paused guest `id`, over QMP. */
  async volumeSnapshot(id: string, volumeId: string, name: string, del = false): Promise<void> {
    checkSnapshotName(name, id);
    const g = await this.need(id);
    this.expect(g, [GuestState.running, GuestState.paused], 'snapshot a volume of');
    await liveVolumeSnapshot(await this.client(id), g.spec, volumeId, name, del);
  }

  /** Guests (any state) that have volume `volumeId` of pool `pool` attached. */
  async volumeUsers(pool: string, volumeId: string): Promise<GuestInfo[]> {
    return (await this.list()).filter((g) =>
      (g.spec.disks ?? []).some((d) => d.pool.name === pool && d.volumeId === volumeId),
    );
  }

  async start(id: string): Promise<void> {
    const g = await this.need(id);
    this.expect(g, [GuestState.shutoff, GuestState.crashed], 'start');
    writeFileSync(join(this.dir(id), 'desired'), 'running');
    try {
      await this.launch(g.spec, this.dir(id));
      await this.client(id);
    } catch (e) {
      writeFileSync(join(this.dir(id), 'desired'), 'shutoff');
      throw e;
    }
  }

  async stop(id: string, opts: { force?: boolean; timeoutMs?: number } = {}): Promise<void> {
    const g = await this.need(id);
    this.expect(g, [GuestState.running, GuestState.paused, GuestState.crashed], 'stop');
    writeFileSync(join(this.dir(id), 'desired'), 'shutoff');
    await this.terminate(id, opts.force || g.state === GuestState.paused ? 0 : (opts.timeoutMs ?? 15_000));
  }

  /** Ask the guest to power off; after timeoutMs quit QEMU; then kill it. */
  async terminate(id: string, gracefulMs: number): Promise<void> {
    const pid = this.pid(id);
    if (pid === undefined) return;
    try {
      const c = await this.client(id);
      if (gracefulMs > 0) {
        await c.execute('system_powerdown');
        const deadline = Date.now() + gracefulMs;
        while (Date.now() < deadline && alive(pid)) await sleep(100);
      }
      if (alive(pid)) await c.execute('quit').catch(() => undefined);
    } catch {
      /* fall through to kill */
    }
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline && alive(pid)) await sleep(50);
    if (alive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    while (alive(pid)) await sleep(20);
    this.qmp.get(id)?.close();
    this.qmp.delete(id);
  }

  async pause(id: string) {
    const g = await this.need(id);
    this.expect(g, [GuestState.running], 'pause');
    await (await this.client(id)).execute('stop');
  }

  async resume(id: string) {
    const g = await this.need(id);
    this.expect(g, [GuestState.paused], 'resume');
    await (await this.client(id)).execute('cont');
  }

  async reboot(id: string) {
    const g = await this.need(id);
    this.expect(g, [GuestState.running], 'reboot');
    await (await this.client(id)).execute('system_reset');
  }

  private async hmp(id: string, line: string, timeoutMs = 120_000): Promise<string> {
    const out = await (
      await this.client(id)
    ).execute<string>('human-monitor-command', { 'command-line': line }, timeoutMs);
    return typeof out === 'string' ? out : '';
  }

  async snapshot(id: string, name: string) {
    const g = await this.need(id);
    checkSnapshotName(name, id);
    this.expect(g, [GuestState.running, GuestState.paused, GuestState.shutoff], 'snapshot');
    if (g.state === GuestState.shutoff) {
      const r = await run(this.qemuImg, ['snapshot', '-c', name, join(this.dir(id), 'disk.qcow2')]);
      if (r.code !== 0) throw new DriverError('BACKEND', `qemu-img snapshot failed: ${r.stderr.trim()}`, id);
    } else {
      // Internal snapshot of RAM, device state and disk into the guest's qcow2.
      const out = await this.hmp(id, `savevm ${name}`);
      if (/error/i.test(out)) throw new DriverError('BACKEND', `savevm failed: ${out.trim()}`, id);
    }
    const list = this.snapshots(id).filter((s) => s !== name);
    list.push(name);
    writeFileSync(join(this.dir(id), 'snapshots.json'), JSON.stringify(list));
  }

  async restore(id: string, name: string) {
    checkSnapshotName(name, id);
    const g = await this.need(id);
    if (!g.snapshots.includes(name))
      throw new DriverError('NOT_FOUND', `Guest "${id}" has no snapshot "${name}"`, id);
    this.expect(g, [GuestState.running, GuestState.paused, GuestState.shutoff], 'restore');
    if (g.state === GuestState.shutoff) {
      const r = await run(this.qemuImg, ['snapshot', '-a', name, join(this.dir(id), 'disk.qcow2')]);
      if (r.code !== 0)
        throw new DriverError('BACKEND', `qemu-img snapshot -a failed: ${r.stderr.trim()}`, id);
      return;
    }
    const out = await this.hmp(id, `loadvm ${name}`);
    if (/error/i.test(out)) throw new DriverError('BACKEND', `loadvm failed: ${out.trim()}`, id);
  }

  async listSnapshots(id: string) {
    return (await this.need(id)).snapshots;
  }

  async deleteSnapshot(id: string, name: string) {
    checkSnapshotName(name, id);
    const g = await this.need(id);
    if (!g.snapshots.includes(name))
      throw new DriverError('NOT_FOUND', `Guest "${id}" has no snapshot "${name}"`, id);
    if (g.state === GuestState.running || g.state === GuestState.paused) {
      const out = await this.hmp(id, `delvm ${name}`);
      if (/error/i.test(out)) throw new DriverError('BACKEND', `delvm failed: ${out.trim()}`, id);
    } else {
      const r = await run(this.qemuImg, ['snapshot', '-d', name, join(this.dir(id), 'disk.qcow2')]);
      if (r.code !== 0)
        throw new DriverError('BACKEND', `qemu-img snapshot -d failed: ${r.stderr.trim()}`, id);
    }
    writeFileSync(
      join(this.dir(id), 'snapshots.json'),
      JSON.stringify(this.snapshots(id).filter((s) => s !== name)),
    );
  }

  async delete(id: string) {
    await this.need(id);
    await this.terminate(id, 0);
    rmSync(this.dir(id), { recursive: true, force: true });
  }

  async setBalloon(id: string, targetMiB: number) {
    const g = await this.need(id);
    this.expect(g, [GuestState.running], 'balloon');
    const min = g.spec.minMemoryMiB ?? 64;
    if (!(targetMiB >= min && targetMiB <= g.spec.memoryMiB))
      throw new DriverError(
        'BAD_SPEC',
        `Balloon target ${targetMiB} MiB for "${id}" must be in ${min}..${g.spec.memoryMiB} MiB`,
        id,
      );
    await (await this.client(id)).execute('balloon', { value: Math.round(targetMiB * 2 ** 20) });
  }

  async metrics(id: string): Promise<GuestMetrics> {
    const g = await this.need(id);
    const pid = this.pid(id);
    let cpuTimeS = 0,
      rssMiB = 0,
      balloonMiB = 0;
    if (pid !== undefined) {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        cpuTimeS = (Number(f[11]) + Number(f[12])) / 100; // utime + stime in clock ticks (USER_HZ = 100)
        const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
        rssMiB = m ? Number(m[1]) / 1024 : 0;
      } catch {
        /* exited meanwhile */
      }
      try {
        const b = await (await this.client(id)).execute<{ actual: number }>('query-balloon');
        balloonMiB = b.actual / 2 ** 20;
      } catch {
        balloonMiB = g.spec.memoryMiB;
      }
    }
    return { state: g.state, cpuTimeS, memoryMiB: g.spec.memoryMiB, balloonMiB, rssMiB };
  }

  /**
   * The guest's memory as it sees it, from virtio-balloon statistics (the first call turns polling on;
   * statistics appear after the guest's first report).
   */
  async memoryStats(id: string): Promise<GuestMemoryStats | undefined> {
    const c = await this.client(id);
    const path = '/machine/peripheral/balloon0';
    await c.execute('qom-set', { path, property: 'guest-stats-polling-interval', value: 2 });
    const r = await c.execute<{ stats: Record<string, number>; 'last-update': number }>('qom-get', {
      path,
      property: 'guest-stats',
    });
    const s = r.stats;
    if (!r['last-update'] || !(s['stat-total-memory']! > 0)) return undefined;
    const mib = (x: number | undefined) => (x !== undefined && x >= 0 ? x / 2 ** 20 : NaN);
    return {
      totalMiB: mib(s['stat-total-memory']),
      availableMiB: mib(s['stat-available-memory']),
      freeMiB: mib(s['stat-free-memory']),
    };
  }

  /**
   * A running guest's memory profile: pages present in its QEMU process (resident), the memory it uses
   * (total − available from its balloon statistics; resident until it reports them) and a page
   * fingerprint of its RAM sampled at 2^-sampleBits (page-sampler.ts; root only).
   * @throws DriverError NOT_FOUND, INVALID_STATE (not running), BAD_SPEC (sampleBits), BACKEND (scan failed)
   */
  async memoryProfile(
    id: string,
    o: Pick<PageSamplerOptions, 'sampleBits' | 'rateMiBps' | 'hashKey'> = {},
  ): Promise<GuestMemoryProfile> {
    const g = await this.need(id);
    this.expect(g, [GuestState.running], 'profile the memory of');
    const sampleBits = o.sampleBits ?? 6;
    if (!(Number.isInteger(sampleBits) && sampleBits >= 0 && sampleBits <= 16))
      throw new DriverError('BAD_SPEC', `sampleBits must be a whole number from 0 to 16`, id);
    const pid = this.pid(id);
    if (pid === undefined) throw new DriverError('INVALID_STATE', `Guest "${id}" has no QEMU process`, id);
    let scan;
    try {
      scan = await scanGuestMemory(pid, g.spec.memoryMiB * 2 ** 20, {
        sampleBits,
        rateMiBps: o.rateMiBps,
        hashKey: o.hashKey,
      });
    } catch (e) {
      throw new DriverError('BACKEND', `Cannot scan the memory of "${id}": ${(e as Error).message}`, id, {
        cause: e,
      });
    }
    const residentMiB = scan.residentPages / PAGES_PER_MIB;
    const st = await this.memoryStats(id).catch(() => undefined);
    const used = st ? st.totalMiB - st.availableMiB : NaN;
    return {
      at: new Date().toISOString(),
      memoryMiB: g.spec.memoryMiB,
      residentMiB,
      workingSetMiB: Number.isFinite(used) && used >= 0 ? Math.min(used, g.spec.memoryMiB) : residentMiB,
      mergeable: g.spec.mergeable !== false,
      fingerprint: scan.fingerprint,
      scanCpuMs: Math.round(scan.scanCpuMs * 10) / 10,
    };
  }

  /**
   * Measure how fast the guest dirties memory with QEMU `calc-dirty-rate`, MiB/s (QEMU's "MB/s" are
   * MiB). Mode: `dirty-ring` under KVM when the guest was started with a dirty ring (exact), else
   * `page-sampling` (QEMU hashes sampled pages at both ends of the window: it misses pages rewritten
   * with equal content and counts a page once however often it is written, so it reads low under
   * TCG; the calibration file's `dirtySampleGain`, fitted by `npm run bench:migration`, corrects it).
   * @param o seconds of measurement (1..60), sample pages per GiB (QEMU default 512; more: less noise)
   */
  async dirtyRate(
    id: string,
    o: { seconds?: number; samplePagesPerGiB?: number; mode?: 'page-sampling' | 'dirty-ring' } = {},
  ): Promise<number> {
    const seconds = o.seconds ?? 1;
    if (!(Number.isInteger(seconds) && seconds >= 1 && seconds <= 60))
      throw new DriverError('BAD_SPEC', `Dirty-rate seconds must be 1..60, got ${seconds}`, id);
    const c = await this.client(id);
    const args: Record<string, unknown> = {
      'calc-time': seconds,
      mode: o.mode ?? (this.accel === 'kvm' ? 'dirty-ring' : 'page-sampling'),
    };
    if (args.mode === 'page-sampling' && o.samplePagesPerGiB !== undefined)
      args['sample-pages'] = Math.max(0, Math.min(10_000, Math.round(o.samplePagesPerGiB)));
    try {
      await c.execute('calc-dirty-rate', args);
    } catch (e) {
      // No dirty ring on this guest (KVM without dirty-ring-size): sample pages instead.
      if (args.mode !== 'dirty-ring' || o.mode === 'dirty-ring') throw e;
      await c.execute('calc-dirty-rate', { 'calc-time': seconds, mode: 'page-sampling' });
    }
    for (let i = 0; i < 100; i++) {
      await sleep(Math.max(100, seconds * 100));
      const r = await c.execute<{ status: string; 'dirty-rate'?: number }>('query-dirty-rate');
      if (r.status === 'measured') return r['dirty-rate'] ?? 0;
    }
    throw new DriverError('BACKEND', `Dirty-rate measurement of "${id}" did not finish`, id);
  }

  async close() {
    for (const c of this.qmp.values()) c.close();
    this.qmp.clear();
  }
}

/**
 * Decide between KVM and TCG: KVM only if /dev/kvm exists and a probe guest boots under it to its
 * ready marker within the timeout (nested KVM on cloud VMs often opens but crashes or crawls).
 * Cached in STATE/accel.json.
 */
export async function probeAccel(
  opts: Omit<QemuDriverOptions, 'imageDirs'>,
): Promise<{ accel: Accel; reason: string }> {
  const cache = join(opts.stateDir, 'accel.json');
  try {
    return JSON.parse(readFileSync(cache, 'utf8'));
  } catch {
    /* probe */
  }
  let result: { accel: Accel; reason: string };
  if (!existsSync('/dev/kvm')) result = { accel: 'tcg', reason: '/dev/kvm does not exist' };
  else if (!opts.probeImage) result = { accel: 'tcg', reason: 'no probe image to test KVM with' };
  else {
    const d = join(opts.stateDir, 'probe');
    rmSync(d, { recursive: true, force: true });
    mkdirSync(d, { recursive: true });
    const qemu = opts.qemuBinary ?? 'qemu-system-x86_64';
    const args = [
      '-machine',
      'q35,accel=kvm',
      '-cpu',
      'host',
      '-m',
      '256M',
      '-kernel',
      opts.probeImage.kernel,
      ...(opts.probeImage.initrd ? ['-initrd', opts.probeImage.initrd] : []),
      '-append',
      'console=ttyS0 quiet panic=-1 nubis.mib=4 nubis.rate=0',
      '-display',
      'none',
      '-nodefaults',
      '-serial',
      `file:${join(d, 'serial.log')}`,
      '-nic',
      'none',
      '-no-reboot',
    ];
    const p = spawn(qemu, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (x) => {
      stderr += x;
    });
    const deadline = Date.now() + (opts.probeTimeoutMs ?? 20_000);
    let ok = false;
    while (Date.now() < deadline && p.exitCode === null) {
      await sleep(200);
      try {
        if (readFileSync(join(d, 'serial.log'), 'utf8').includes('nubis-pass 1 ok')) {
          ok = true;
          break;
        }
      } catch {
        /* not yet */
      }
    }
    const exited = p.exitCode !== null;
    p.kill('SIGKILL');
    result = ok
      ? { accel: 'kvm', reason: 'a probe guest booted and ran under KVM' }
      : {
          accel: 'tcg',
          reason: exited
            ? `KVM probe guest exited: ${stderr.trim().split('\n').pop() ?? 'no message'}`
            : `KVM probe guest did not come up within ${opts.probeTimeoutMs ?? 20_000} ms`,
        };
    rmSync(d, { recursive: true, force: true });
  }
  writeFileSync(cache, JSON.stringify(result));
  return result;
}
