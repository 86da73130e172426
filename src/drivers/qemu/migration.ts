/**
 * Live migration of a guest between two QEMU drivers ("hosts"), in every mode of the lecture
 * material: stop-and-copy, iterative pre-copy (downtime limit, bandwidth cap, Xen-style stop rules:
 * Clark et al., NSDI 2005), post-copy after a pre-copy warm-up (Hines & Gopalan, VEE 2009), and the
 * options auto-converge (CPU throttling), XBZRLE page-delta compression (Svärd et al., VEE 2011),
 * multifd with zstd/zlib compression. Zero pages are always skipped by QEMU. Local disks are mirrored
 * live over NBD before the memory moves (block-mirror.ts); shared disks are not moved.
 *
 * A failure at any point leaves the guest running on the source and the destination cleaned up.
 */
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkGuestSpec, DriverError, GuestState, type GuestSpec } from '../../core/hypervisor.ts';
import { checkGuestId, checkSnapshotName } from './host-paths.ts';
import {
  abortMirrors,
  completeMirrors,
  createTargetDisk,
  DEVICE_RE,
  type DiskMode,
  listDisks,
  MAX_DISK_BYTES,
  type MirrorDisk,
  mirrorProgress,
  type NbdTarget,
  startMirrors,
  startNbdServer,
  stopNbdServer,
  waitMirrorsReady,
} from './block-mirror.ts';
import { assignSlots, nodeName, type SlottedDisk } from './guest-disks.ts';
import { checkQcow2References, findIncomingDisk } from './incoming-disk.ts';
import type { QemuDriver } from './qemu-driver.ts';
import type { QmpClient } from './qmp-client.ts';

export const MIGRATION_MODES = ['stop-and-copy', 'precopy', 'postcopy'] as const;
export type MigrationMode = (typeof MIGRATION_MODES)[number];

export interface MigrationOptions {
  mode: MigrationMode;
  /** Pre-copy: the downtime QEMU may take for the final copy (QEMU `downtime-limit`), ms. */
  maxDowntimeMs?: number;
  /** Bandwidth cap for the migration stream, Mbit/s (QEMU `max-bandwidth`). */
  bandwidthMbps?: number;
  /** Xen-style stop rules: stop iterating after this many rounds, or after copying this many times the RAM. */
  stopAfterRounds?: number;
  stopAfterRamCopies?: number;
  /** Post-copy: switch after this much pre-copy warm-up, ms (default 1000). */
  postcopyAfterMs?: number;
  /** Pre-copy with a safety net: if still copying after this long, switch to post-copy. */
  postcopyFallbackAfterMs?: number;
  autoConverge?: boolean;
  /** XBZRLE page-delta compression with this cache, MiB. */
  xbzrleCacheMiB?: number;
  /** Multifd with this many channels and compression. */
  multifd?: { channels: number; compression: 'none' | 'zstd' | 'zlib' };
  /** Give up (and roll back) after this long, ms (default 60 s). */
  timeoutMs?: number;
  /** Address the destination listens on (default 127.0.0.1). */
  listenHost?: string;
  /**
   * How the disks travel: `mirror` (live NBD mirror of the local disks before the memory moves) or
   * `shared` (the destination sees the disk files: only memory moves). Default: shared when the
   * destination can see the source's disk, else mirror.
   */
  disks?: DiskMode;
}

export interface MigrationReport {
  vmId: string;
  mode: MigrationMode;
  /** What actually happened: e.g. "precopy", "precopy→stop (rounds)", "precopy→postcopy". */
  modeUsed: string;
  status: 'completed' | 'failed';
  totalMs: number;
  downtimeMs: number;
  bytes: number;
  rounds: number;
  dirtyRateMiBps: number;
  /** How the disks travelled, the bytes the mirror copied (0 when shared) and how long it took to sync. */
  disks?: DiskMode;
  diskBytes?: number;
  mirrorMs?: number;
  /** QEMU's own RAM statistics at the end (query-migrate), for models and benchmarks. */
  ram?: MigrationRamStats;
  error?: string;
}

/** The RAM statistics QEMU reports for a migration (query-migrate `ram`, last poll). */
export interface MigrationRamStats {
  /** Pages sent in full (non-zero) and their bytes; pages found zero (QEMU: duplicate). */
  normalPages: number;
  normalBytes: number;
  zeroPages: number;
  /** Throughput QEMU measured in the last interval, Mbit/s. */
  mbps: number;
  /** Setup phase, ms (query-migrate setup-time). */
  setupMs: number;
  /** Bytes sent before the stop, during the downtime, and after the switch to post-copy. */
  precopyBytes: number;
  downtimeBytes: number;
  postcopyBytes: number;
  /** Bytes QEMU put on the multifd channels (compressed when compression is on). */
  multifdBytes: number;
}

/** A migration that failed; the guest is still running on the source. */
export class MigrationError extends Error {
  readonly code = 'MIGRATION_FAILED';
  constructor(
    message: string,
    readonly report: MigrationReport,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface QueryMigrate {
  status?: string;
  'total-time'?: number;
  downtime?: number;
  'expected-downtime'?: number;
  ram?: {
    transferred: number;
    total: number;
    remaining: number;
    'dirty-sync-count': number;
    'dirty-pages-rate': number;
    'page-size': number;
    normal?: number;
    'normal-bytes'?: number;
    duplicate?: number;
    mbps?: number;
    'precopy-bytes'?: number;
    'downtime-bytes'?: number;
    'postcopy-bytes'?: number;
    'multifd-bytes'?: number;
  };
  'setup-time'?: number;
  'socket-address'?: { type: string; host?: string; port?: string }[];
  'error-desc'?: string;
}

/** Check option combinations QEMU refuses, before touching anything. */
export function checkMigrationOptions(o: MigrationOptions): string[] {
  const e: string[] = [];
  if (!MIGRATION_MODES.includes(o.mode))
    e.push(`mode must be one of ${MIGRATION_MODES.join(', ')}, got "${o.mode}"`);
  if (o.multifd && o.xbzrleCacheMiB) e.push('XBZRLE and multifd cannot be combined');
  if (o.multifd && (o.mode === 'postcopy' || o.postcopyFallbackAfterMs !== undefined))
    e.push('multifd with post-copy is not supported by this QEMU');
  if (o.multifd && !(o.multifd.channels >= 1 && o.multifd.channels <= 64))
    e.push(`multifd.channels must be 1..64, got ${o.multifd.channels}`);
  if (o.maxDowntimeMs !== undefined && !(o.maxDowntimeMs >= 1 && o.maxDowntimeMs <= 2_000_000))
    e.push(`maxDowntimeMs must be 1..2000000, got ${o.maxDowntimeMs}`);
  if (o.bandwidthMbps !== undefined && !(o.bandwidthMbps > 0))
    e.push(`bandwidthMbps must be > 0, got ${o.bandwidthMbps}`);
  // It becomes part of a QEMU URI (tcp:HOST:0): an address or a host name, nothing else.
  if (o.disks !== undefined && o.disks !== 'mirror' && o.disks !== 'shared')
    e.push(`disks must be "mirror" or "shared", got ${JSON.stringify(String(o.disks).slice(0, 40))}`);
  if (o.listenHost !== undefined && !/^([A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])$/.test(o.listenHost))
    e.push(
      `listenHost must be an IPv4 address, a host name or [IPv6], got ${JSON.stringify(String(o.listenHost).slice(0, 80))}`,
    );
  return e;
}

async function setCaps(c: QmpClient, o: MigrationOptions, mirror = false): Promise<void> {
  const caps = [
    // With disks mirrored, QEMU pauses before the switch-over so that the mirror jobs complete first.
    { capability: 'pause-before-switchover', state: mirror },
    { capability: 'events', state: true },
    { capability: 'postcopy-ram', state: o.mode === 'postcopy' || o.postcopyFallbackAfterMs !== undefined },
    { capability: 'auto-converge', state: !!o.autoConverge },
    { capability: 'xbzrle', state: !!o.xbzrleCacheMiB },
    { capability: 'multifd', state: !!o.multifd },
  ];
  await c.execute('migrate-set-capabilities', { capabilities: caps });
  if (o.multifd)
    await c.execute('migrate-set-parameters', {
      'multifd-channels': o.multifd.channels,
      'multifd-compression': o.multifd.compression,
    });
}

/**
 * What the destination needs to receive a guest: its spec, snapshot names and disk sizes. Its disk is
 * `guests/ID/disk.qcow2` of a source state folder the destination is configured with (same machine or
 * shared storage; hard-linked: the same file), found from the id, never a path the caller names; or,
 * when it sees none, an empty target the source mirrors into over NBD (block-mirror.ts).
 */
export interface IncomingRequest {
  spec: GuestSpec;
  snapshots: string[];
  options: MigrationOptions;
  /** The source's disks and their virtual sizes (the destination creates mirror targets of that size). */
  disks?: MirrorDisk[];
}

/** What a prepared destination tells the source: where to stream, and the NBD targets when mirroring. */
export interface IncomingReady {
  uri: string;
  disks: DiskMode;
  nbd?: NbdTarget;
}

/** Volumes the destination created as mirror targets for an incoming guest (pool, volume id). */
const MIRRORED = 'mirrored-volumes.json';

/** The local volumes created for incoming guest dir `d` (none: an empty list). */
function mirroredVolumes(d: string): { pool: string; volumeId: string }[] {
  try {
    return JSON.parse(readFileSync(join(d, MIRRORED), 'utf8')) as { pool: string; volumeId: string }[];
  } catch {
    return [];
  }
}

/** Remove the mirror targets created for incoming guest dir `d` (a failed or aborted migration). */
function removeMirroredVolumes(dst: QemuDriver, d: string): void {
  for (const v of mirroredVolumes(d)) {
    try {
      rmSync(dst.opts.pools!.volumePath(v.pool, v.volumeId), { force: true });
    } catch {
      // a pool that went away: nothing of ours is left in it
    }
  }
}

/**
 * The destination's targets for the guest's volumes in local pools: an empty qcow2 of the source's
 * virtual size in this host's pool of the same name (a volume in a shared pool is the same file here,
 * opened as it is). Returns the node names to export; the created volumes are recorded in `d`.
 */
async function placeVolumes(dst: QemuDriver, req: IncomingRequest, d: string): Promise<string[]> {
  const id = req.spec.id;
  const local = assignSlots((req.spec.disks ?? []) as SlottedDisk[], id).filter(
    (x) => x.pool.kind === 'local',
  );
  if (!local.length) return [];
  const pools = dst.opts.pools;
  if (!pools) throw new DriverError('BAD_SPEC', `Guest "${id}" has volumes but this host has no pools`, id);
  const created: { pool: string; volumeId: string }[] = [];
  const nodes: string[] = [];
  for (const v of local) {
    const node = nodeName(v.slot);
    const src = req.disks?.find((x) => x.device === node);
    if (!src)
      throw new DriverError(
        'BAD_SPEC',
        `A migration of "${id}" needs the size of its local volume "${v.volumeId}" (disks: [{ device: "${node}", virtualSize }])`,
        id,
      );
    if (!(Number.isSafeInteger(src.virtualSize) && src.virtualSize > 0 && src.virtualSize <= MAX_DISK_BYTES))
      throw new DriverError('BAD_SPEC', `Bad disk size ${src.virtualSize}: 1 byte .. 4 TiB`, id);
    if (src.snapshots)
      throw new DriverError(
        'BAD_SPEC',
        `Volume "${v.volumeId}" of "${id}" has snapshots, which a disk mirror does not carry; delete them first`,
        id,
      );
    pools.pool(v.pool.name, 'local');
    const path = pools.volumePath(v.pool.name, v.volumeId);
    if (existsSync(path))
      throw new DriverError(
        'ALREADY_EXISTS',
        `Volume "${v.volumeId}" already exists in this host's local pool "${v.pool.name}"`,
        id,
      );
    await createTargetDisk(dst.opts.qemuImgBinary ?? 'qemu-img', path, src.virtualSize);
    chmodSync(path, 0o600);
    created.push({ pool: v.pool.name, volumeId: v.volumeId });
    writeFileSync(join(d, MIRRORED), JSON.stringify(created));
    nodes.push(node);
  }
  return nodes;
}

/** The destination's disk for guest `id`: hard-linked from the source (shared) or an empty mirror target. */
async function placeDisk(dst: QemuDriver, req: IncomingRequest, d: string): Promise<DiskMode> {
  const id = req.spec.id;
  let found: string | undefined;
  if (req.options.disks !== 'mirror') {
    try {
      found = findIncomingDisk(dst.opts, id);
    } catch (e) {
      // Mirror only when no disk is visible and the source sent the sizes to mirror into; a visible
      // disk that fails a check (symlink, owner, several copies) is refused, never worked around.
      const none = e instanceof DriverError && e.message.startsWith('No disk of guest');
      if (req.options.disks === 'shared' || !none || !req.disks) throw e;
    }
  }
  if (found) {
    // The same file, not a copy: writes the guest makes until the switch-over are kept. Both state
    // folders must be on one filesystem (a shared pool); otherwise use disks: 'mirror'.
    try {
      linkSync(found, join(d, 'disk.qcow2'));
    } catch (e) {
      throw new DriverError(
        'BAD_SPEC',
        `The disk of "${id}" is visible but not on this host's filesystem (${(e as NodeJS.ErrnoException).code}); use disks: 'mirror'`,
        id,
      );
    }
    return 'shared';
  }
  const root = req.disks?.find((x) => x.device === 'disk0');
  if (!root || !req.disks!.every((x) => DEVICE_RE.test(x.device)))
    throw new DriverError(
      'BAD_SPEC',
      `A mirrored migration needs the size of the root disk (disks: [{ device: "disk0", virtualSize }])`,
      id,
    );
  if (!(Number.isSafeInteger(root.virtualSize) && root.virtualSize > 0 && root.virtualSize <= MAX_DISK_BYTES))
    throw new DriverError('BAD_SPEC', `Bad disk size ${root.virtualSize}: 1 byte .. 4 TiB`, id);
  if (req.snapshots.length)
    throw new DriverError(
      'BAD_SPEC',
      `Guest "${id}" has internal snapshots, which a disk mirror does not carry; delete them or use disks: 'shared'`,
      id,
    );
  // Over the same (cached, read-only) image the source's disk is backed by: only the overlay moves.
  const image = dst.resolveImage(req.spec);
  await createTargetDisk(
    dst.opts.qemuImgBinary ?? 'qemu-img',
    join(d, 'disk.qcow2'),
    root.virtualSize,
    image.disk,
  );
  return 'mirror';
}

/**
 * Destination side, step 1: set up a QEMU waiting for the stream; returns the URI to send to.
 * @throws DriverError (the destination is then clean)
 */
export async function prepareIncoming(dst: QemuDriver, req: IncomingRequest): Promise<IncomingReady> {
  const id = checkGuestId(req.spec.id);
  // The same rules as a create: a source cannot bring a guest this host would not have created.
  const specErrs = checkGuestSpec(req.spec);
  if (specErrs.length) throw new DriverError('BAD_SPEC', `Bad guest spec: ${specErrs.join('; ')}`, id);
  const errs = checkMigrationOptions(req.options);
  if (errs.length) throw new DriverError('BAD_SPEC', `Bad migration options: ${errs.join('; ')}`, id);
  for (const s of req.snapshots) checkSnapshotName(s, id);
  dst.resolveImage(req.spec);
  if (await dst.get(id))
    throw new DriverError('ALREADY_EXISTS', `Guest "${id}" already exists on the destination`, id);
  const d = dst.dir(id);
  try {
    mkdirSync(d, { recursive: true });
    const mode = await placeDisk(dst, req, d);
    const volumes = await placeVolumes(dst, req, d);
    const mirrored = [...(mode === 'mirror' ? ['disk0'] : []), ...volumes];
    // The file QEMU opens: the files its header names are checked on it.
    await checkQcow2References(
      dst.opts.qemuImgBinary ?? 'qemu-img',
      join(d, 'disk.qcow2'),
      dst.opts.imageDirs,
      id,
    );
    writeFileSync(join(d, 'spec.json'), JSON.stringify(req.spec, null, 2));
    writeFileSync(join(d, 'snapshots.json'), JSON.stringify(req.snapshots));
    writeFileSync(join(d, 'desired'), 'incoming');
    await dst.launch(req.spec, d, ['-incoming', 'defer']);
    const dc = await dst.client(id);
    await setCaps(dc, req.options);
    const host = req.options.listenHost ?? '127.0.0.1';
    const nbd = mirrored.length ? await startNbdServer(dc, host, mirrored) : undefined;
    await dc.execute('migrate-incoming', { uri: `tcp:${host}:0` });
    const addr = (await dc.execute<QueryMigrate>('query-migrate'))['socket-address']?.find((a) => a.port);
    if (!addr?.port) throw new Error('the destination did not report its listening port');
    return { uri: `tcp:${host}:${addr.port}`, disks: nbd ? 'mirror' : mode, ...(nbd ? { nbd } : {}) };
  } catch (e) {
    await cleanIncoming(dst, id);
    if (e instanceof DriverError) throw e;
    throw new DriverError(
      'BACKEND',
      `Cannot prepare incoming migration of "${id}": ${(e as Error).message}`,
      id,
      { cause: e },
    );
  }
}

/**
 * Destination side, step 2: wait until the guest runs here (resuming a guest that arrived paused),
 * then take ownership.
 */
export async function commitIncoming(dst: QemuDriver, id: string): Promise<void> {
  checkGuestId(id);
  if (!isIncoming(dst, id)) {
    const g = await dst.get(id);
    if (!g) throw new DriverError('NOT_FOUND', `No incoming guest "${id}"`, id);
    throw new DriverError('INVALID_STATE', `Guest "${id}" is not an incoming migration`, id);
  }
  const dc = await dst.client(id);
  // The mirror is complete (the source finished it before the switch-over): no export outlives it.
  await stopNbdServer(dc);
  // 'cont' during 'inmigrate' is not a resume: only after the stream has been loaded.
  for (let i = 0; ; i++) {
    const s = await dc.execute<{ running: boolean; status: string }>('query-status');
    if (s.running) break;
    if (s.status === 'paused' || s.status === 'postmigrate') await dc.execute('cont');
    if (i >= 400)
      throw new DriverError(
        'BACKEND',
        `Destination guest "${id}" did not start running (status ${s.status})`,
        id,
      );
    await sleep(25);
  }
  writeFileSync(join(dst.dir(id), 'desired'), 'running');
  // The mirrored volumes are this guest's now: no abort may remove them.
  rmSync(join(dst.dir(id), MIRRORED), { force: true });
  // Tell the switches (bridges, VXLAN learning tables) where the guest's MACs are now: QEMU sends
  // RARPs from each NIC (QMP announce-self, QEMU >= 4.0) besides what the guest announces itself.
  const spec = JSON.parse(readFileSync(join(dst.dir(id), 'spec.json'), 'utf8')) as GuestSpec;
  if (spec.nics?.length)
    await dc.execute('announce-self', { initial: 50, max: 550, rounds: 5, step: 100 }).catch(() => undefined); // best effort: a guest whose NICs announce themselves is reached anyway
}

/** Kill a waiting QEMU and remove the guest's folder. */
async function cleanIncoming(dst: QemuDriver, id: string): Promise<void> {
  await dst.terminate(id, 0).catch(() => undefined);
  removeMirroredVolumes(dst, dst.dir(id));
  rmSync(dst.dir(id), { recursive: true, force: true });
}

/** True when guest `id` on `dst` is an incoming migration not yet committed. */
function isIncoming(dst: QemuDriver, id: string): boolean {
  try {
    return readFileSync(join(dst.dir(id), 'desired'), 'utf8').trim() === 'incoming';
  } catch {
    return false;
  }
}

/**
 * Destination side, on failure: kill the waiting QEMU and remove everything. Only an incoming guest
 * (prepared, not committed) is touched; nothing there is a no-op; any other guest is refused.
 * @throws DriverError BAD_SPEC for a bad id, INVALID_STATE for a guest that is not incoming
 */
export async function abortIncoming(dst: QemuDriver, id: string): Promise<void> {
  const d = dst.dir(checkGuestId(id));
  if (!isIncoming(dst, id)) {
    if (!(await dst.get(id))) return;
    throw new DriverError('INVALID_STATE', `Guest "${id}" is not an incoming migration; not aborting it`, id);
  }
  await dst.terminate(id, 0).catch(() => undefined);
  removeMirroredVolumes(dst, d);
  rmSync(d, { recursive: true, force: true });
}

/**
 * Source side: stream guest `id` to `uri`, following the mode's rules; on success the source QEMU is
 * gone (after `commit` confirms the destination runs it); on failure the guest is running here.
 * @param commit called once the stream completed; it must make the destination run the guest
 * @param abort called on failure to clean the destination
 * @param nbd the destination's NBD targets: the local disks are mirrored there live before the memory
 *   moves, and the mirror completes at the switch-over (none: the disks are shared, only memory moves)
 */
export async function migrateOut(
  src: QemuDriver,
  id: string,
  uri: string,
  o: MigrationOptions,
  commit: () => Promise<void>,
  abort: () => Promise<void>,
  nbd?: NbdTarget,
): Promise<MigrationReport> {
  const errs = checkMigrationOptions(o);
  if (errs.length) throw new DriverError('BAD_SPEC', `Bad migration options: ${errs.join('; ')}`, id);
  const g = await src.get(id);
  if (!g) throw new DriverError('NOT_FOUND', `No guest "${id}" on the source`, id);
  if (g.state !== GuestState.running)
    throw new DriverError('INVALID_STATE', `Cannot migrate guest "${id}": it is ${g.state}`, id);
  const report: MigrationReport = {
    vmId: id,
    mode: o.mode,
    modeUsed: o.mode === 'postcopy' ? 'precopy (finished before the switch to post-copy)' : o.mode,
    status: 'failed',
    totalMs: 0,
    downtimeMs: 0,
    bytes: 0,
    rounds: 0,
    dirtyRateMiBps: 0,
    disks: nbd ? 'mirror' : 'shared',
    diskBytes: 0,
    mirrorMs: 0,
  };
  const sc = await src.client(id);
  let jobs: string[] = [];
  let pausedAt: number | undefined;
  const t0 = Date.now();
  try {
    await setCaps(sc, o, !!nbd);
    const params: Record<string, unknown> = {};
    if (o.maxDowntimeMs !== undefined) params['downtime-limit'] = o.maxDowntimeMs;
    params['max-bandwidth'] = o.bandwidthMbps ? Math.round((o.bandwidthMbps * 1e6) / 8) : 2 ** 40; // QEMU's default cap is 128 MiB/s; lift it unless asked
    // QEMU does not apply max-bandwidth after the switch to post-copy: cap that phase too.
    params['max-postcopy-bandwidth'] = o.bandwidthMbps ? Math.round((o.bandwidthMbps * 1e6) / 8) : 0;
    if (o.xbzrleCacheMiB) params['xbzrle-cache-size'] = o.xbzrleCacheMiB * 2 ** 20;
    await sc.execute('migrate-set-parameters', params);
    if (o.mode === 'stop-and-copy') {
      await sc.execute('stop');
      pausedAt = Date.now(); // stop-and-copy: paused for the mirror too
    }
    const deadline = Date.now() + (o.timeoutMs ?? 60_000);
    if (nbd) {
      // Phase 1: the disks, while the guest runs and writes (its writes are mirrored too).
      const tm = Date.now();
      jobs = await startMirrors(sc, nbd, {
        syncTop: !!g.spec.image.disk,
        ...(o.bandwidthMbps ? { bandwidthBytesPerSec: (o.bandwidthMbps * 1e6) / 8 } : {}),
      });
      report.diskBytes = await waitMirrorsReady(sc, jobs, deadline);
      report.mirrorMs = Date.now() - tm;
    }
    const tStart = Date.now();
    await sc.execute('migrate', { uri });
    let postcopyStarted = false,
      forcedStop = false,
      switchoverContinued = false;
    let q: QueryMigrate = {};
    for (;;) {
      q = await sc.execute<QueryMigrate>('query-migrate');
      const st = q.status ?? 'none';
      if (q.ram) {
        report.bytes = q.ram.transferred;
        report.rounds = q.ram['dirty-sync-count'];
        report.dirtyRateMiBps = Math.max(
          report.dirtyRateMiBps,
          (q.ram['dirty-pages-rate'] * (q.ram['page-size'] || 4096)) / 2 ** 20,
        );
      }
      if (st === 'completed') break;
      if (st === 'pre-switchover') {
        // The guest is paused: finish the disk mirrors (exact copies now), then let the memory switch,
        // once: QEMU leaves pre-switchover a moment after migrate-continue, and a poll in between
        // still reports it (a second migrate-continue fails: "not in expected state: device").
        if (!switchoverContinued) {
          report.diskBytes = Math.max(report.diskBytes ?? 0, await completeMirrors(sc, jobs));
          jobs = [];
          await sc.execute('migrate-continue', { state: 'pre-switchover' });
          switchoverContinued = true;
        } else await sleep(10);
        continue;
      }
      // A mirror that dies while the memory moves (the NBD connection lost) fails the migration.
      if (jobs.length) await mirrorProgress(sc, jobs);
      if (st === 'failed' || st === 'cancelled')
        throw new Error(`QEMU reports the migration ${st}${q['error-desc'] ? `: ${q['error-desc']}` : ''}`);
      if (Date.now() > deadline)
        throw new Error(
          `did not complete within ${o.timeoutMs ?? 60_000} ms (status ${st}, ${report.rounds} rounds, expected downtime ${q['expected-downtime'] ?? '?'} ms)`,
        );
      if (
        o.mode === 'postcopy' &&
        !postcopyStarted &&
        st === 'active' &&
        Date.now() - tStart >= (o.postcopyAfterMs ?? 1000)
      ) {
        await sc.execute('migrate-start-postcopy');
        postcopyStarted = true;
        report.modeUsed = 'precopy→postcopy';
      }
      if (
        o.mode === 'precopy' &&
        o.postcopyFallbackAfterMs !== undefined &&
        !postcopyStarted &&
        st === 'active' &&
        Date.now() - tStart >= o.postcopyFallbackAfterMs
      ) {
        await sc.execute('migrate-start-postcopy');
        postcopyStarted = true;
        report.modeUsed = 'precopy→postcopy (did not converge in time)';
      }
      const ramTotal = q.ram?.total ?? 0;
      const roundsHit = o.stopAfterRounds !== undefined && report.rounds >= o.stopAfterRounds;
      const copiesHit =
        o.stopAfterRamCopies !== undefined && ramTotal > 0 && report.bytes >= o.stopAfterRamCopies * ramTotal;
      if (o.mode === 'precopy' && !forcedStop && st === 'active' && (roundsHit || copiesHit)) {
        // Xen's rule: stop iterating and copy the rest with the guest paused.
        await sc.execute('migrate-set-parameters', { 'downtime-limit': 2_000_000 });
        forcedStop = true;
        report.modeUsed = `precopy→stop (${roundsHit ? 'rounds' : 'ram copies'})`;
      }
      await sleep(50);
    }
    await commit();
    report.totalMs = q['total-time'] ?? Date.now() - tStart;
    if (q.ram) report.ram = ramStats(q);
    report.downtimeMs = pausedAt !== undefined ? Date.now() - pausedAt : (q.downtime ?? 0);
    report.status = 'completed';
  } catch (e) {
    // Roll back: cancel here, clean the destination, make sure the guest runs on the source.
    await sc.execute('migrate_cancel').catch(() => undefined);
    // The mirror jobs and their NBD client nodes go too: the source's disks were never touched.
    await abortMirrors(sc, nbd).catch(() => undefined);
    // Wait for the cancel to finish: a migration still "cancelling" makes the next attempt fail
    // ("There's a migration process in progress"), as the full benchmark showed.
    for (let i = 0; i < 200; i++) {
      const m = await sc.execute<{ status?: string }>('query-migrate').catch(() => undefined);
      if (!m || !m.status || ['cancelled', 'failed', 'completed', 'none'].includes(m.status)) break;
      await sleep(50);
    }
    await abort().catch(() => undefined);
    for (let i = 0; i < 100; i++) {
      const s = await sc.execute<{ running: boolean; status: string }>('query-status').catch(() => undefined);
      if (!s || s.running) break;
      if (s.status !== 'finish-migrate') await sc.execute('cont').catch(() => undefined);
      await sleep(50);
    }
    report.totalMs = Date.now() - t0;
    report.error = (e as Error).message;
    throw new MigrationError(
      `Migration of guest "${id}" failed, it keeps running on the source: ${report.error}`,
      report,
      { cause: e },
    );
  }
  writeFileSync(join(src.dir(id), 'desired'), 'migrated');
  await src.terminate(id, 0);
  // The local volumes that were mirrored live on the destination now: the copies here go.
  const moved = new Set(nbd?.exports.map((e) => e.device));
  for (const v of assignSlots((g.spec.disks ?? []) as SlottedDisk[], id))
    if (v.pool.kind === 'local' && moved.has(nodeName(v.slot)))
      rmSync(src.opts.pools!.volumePath(v.pool.name, v.volumeId), { force: true });
  rmSync(src.dir(id), { recursive: true, force: true });
  return report;
}

/** The RAM statistics of a completed query-migrate answer (absent fields: 0). */
function ramStats(q: QueryMigrate): MigrationRamStats {
  const r = q.ram!;
  return {
    normalPages: r.normal ?? 0,
    normalBytes: r['normal-bytes'] ?? 0,
    zeroPages: r.duplicate ?? 0,
    mbps: r.mbps ?? 0,
    setupMs: q['setup-time'] ?? 0,
    precopyBytes: r['precopy-bytes'] ?? 0,
    downtimeBytes: r['downtime-bytes'] ?? 0,
    postcopyBytes: r['postcopy-bytes'] ?? 0,
    multifdBytes: r['multifd-bytes'] ?? 0,
  };
}

/**
 * Migrate guest `id` from `src` to `dst` (both in this process). On success the guest belongs to
 * `dst` (running) and is gone from `src`; on failure it runs on `src`, `dst` holds nothing, and
 * MigrationError is thrown.
 */
export async function migrate(
  src: QemuDriver,
  dst: QemuDriver,
  id: string,
  o: MigrationOptions,
): Promise<MigrationReport> {
  const g = await src.get(id);
  if (!g) throw new DriverError('NOT_FOUND', `No guest "${id}" on the source`, id);
  if (g.state !== GuestState.running)
    throw new DriverError('INVALID_STATE', `Cannot migrate guest "${id}": it is ${g.state}`, id);
  const disks = await listDisks(await src.client(id));
  const { uri, nbd } = await prepareIncoming(dst, {
    spec: g.spec,
    snapshots: g.snapshots,
    options: o,
    disks,
  });
  return migrateOut(
    src,
    id,
    uri,
    o,
    () => commitIncoming(dst, id),
    () => abortIncoming(dst, id),
    nbd,
  );
}
