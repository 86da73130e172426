/**
 * Live block migration of a guest's local disks, the way Nova/libvirt do it: the destination QEMU
 * (started with `-incoming defer`) exports empty target disks of the same virtual size over NBD on its
 * migration address, the source mirrors each disk into them (QMP `blockdev-add` of an NBD client node,
 * `blockdev-mirror`), waits until every job is READY (source and target in sync, new writes mirrored),
 * then the memory moves; at the switch-over (`pause-before-switchover`, guest paused) the jobs are
 * completed without a pivot, so the destination's disks are exact copies. See QEMU
 * docs/interop/live-block-operations.rst ("QMP invocation for live storage migration with
 * drive-mirror + NBD") and libvirt's qemuMigrationSrcNBDStorageCopy.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import type { QmpClient } from './qmp-client.ts';

/** How the disks travel: mirrored over NBD, or already visible to the destination (shared). */
export type DiskMode = 'mirror' | 'shared';

/**
 * A disk the source mirrors: its QEMU block device (backend) name, or the node name of a volume
 * (guest-disks.ts nodeName()), its virtual size in bytes and how many internal snapshots it has.
 */
export interface MirrorDisk {
  device: string;
  virtualSize: number;
  snapshots?: number;
}

/** The NBD server a destination runs for one migration: address and one secret export per disk. */
export interface NbdTarget {
  host: string;
  port: number;
  exports: { device: string; name: string }[];
}

/** Block device names this module accepts (QEMU ids; they become parts of node names). */
export const DEVICE_RE = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;
/** The largest disk a destination creates for a mirror (bytes): 4 TiB. */
export const MAX_DISK_BYTES = 4 * 2 ** 40;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface BlockInfo {
  device: string;
  inserted?: {
    'node-name'?: string;
    image: { 'virtual-size': number; 'backing-filename'?: string; snapshots?: unknown[] };
  };
}

/** Node names of attached volumes (guest-disks.ts nodeName()): they have no backend name. */
export const VOLUME_NODE_RE = /^vd[0-9]{1,2}$/;

/** The name a disk is mirrored under: its backend name (root disk) or its node name (a volume). */
const diskName = (b: BlockInfo) =>
  b.device || (VOLUME_NODE_RE.test(b.inserted?.['node-name'] ?? '') ? b.inserted!['node-name']! : '');

/** Source side: the guest's disks (root disk and attached volumes) as QEMU sees them. */
export async function listDisks(sc: QmpClient): Promise<MirrorDisk[]> {
  const blocks = await sc.execute<BlockInfo[]>('query-block');
  return blocks
    .filter((b) => b.inserted && DEVICE_RE.test(diskName(b)))
    .map((b) => ({
      device: diskName(b),
      virtualSize: b.inserted!.image['virtual-size'],
      snapshots: b.inserted!.image.snapshots?.length ?? 0,
    }));
}

/** Create an empty qcow2 target of `bytes` (over the same backing image when `backing` is given). */
export function createTargetDisk(
  qemuImg: string,
  path: string,
  bytes: number,
  backing?: string,
): Promise<void> {
  const args = [
    'create',
    '-q',
    '-f',
    'qcow2',
    ...(backing ? ['-F', 'qcow2', '-b', backing] : []),
    path,
    String(bytes),
  ];
  return new Promise((ok, fail) =>
    execFile(qemuImg, args, { timeout: 30_000 }, (e, _o, stderr) =>
      e ? fail(new Error(`qemu-img create failed: ${String(stderr).trim() || e.message}`)) : ok(),
    ),
  );
}

/** A free TCP port on `host` (the NBD server is then started on it; QEMU does not report port 0's). */
function freePort(host: string): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, host.replace(/^\[|\]$/g, ''), () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? ok(a.port) : fail(new Error('no port'))));
    });
  });
}

/**
 * Destination side: start an NBD server on the migration address and export each disk writable under
 * a random secret name (only the source, told the name for this migration, can reach it).
 */
export async function startNbdServer(dc: QmpClient, host: string, devices: string[]): Promise<NbdTarget> {
  let port = 0;
  for (let attempt = 0; ; attempt++) {
    port = await freePort(host);
    try {
      await dc.execute('nbd-server-start', {
        addr: { type: 'inet', data: { host: host.replace(/^\[|\]$/g, ''), port: String(port) } },
      });
      break;
    } catch (e) {
      if (attempt >= 3) throw e; // the port was taken between the probe and QEMU's bind
    }
  }
  const exports: NbdTarget['exports'] = [];
  for (const device of devices) {
    const name = `nubis-${randomBytes(16).toString('hex')}`;
    const info = (await dc.execute<BlockInfo[]>('query-block')).find((b) => diskName(b) === device);
    const node = (info?.inserted as { 'node-name'?: string } | undefined)?.['node-name'];
    if (!node) throw new Error(`the destination has no disk "${device}"`);
    await dc.execute('block-export-add', {
      type: 'nbd',
      id: `mig-${device}`,
      'node-name': node,
      name,
      writable: true,
      // Not allow-inactive: the export activates the (empty) target, so that the mirror may write it
      // while the guest is still incoming (as libvirt's NBD migration does).
    });
    exports.push({ device, name });
  }
  return { host, port, exports };
}

/** Destination side: stop the NBD server (the exports go with it); nothing running is a no-op. */
export async function stopNbdServer(dc: QmpClient): Promise<void> {
  await dc.execute('nbd-server-stop').catch(() => undefined);
}

interface BlockJob {
  device: string;
  type: string;
  len: number;
  offset: number;
  ready: boolean;
  status: string;
}

/**
 * Source side: mirror each disk to its NBD export; returns the job ids. `syncTop`: the root disk's
 * target has the same backing image (only its overlay moves); volumes are copied whole (`full`) into
 * flat targets, since the destination may not have what they are backed by.
 */
export async function startMirrors(
  sc: QmpClient,
  t: NbdTarget,
  o: { syncTop: boolean; bandwidthBytesPerSec?: number },
): Promise<string[]> {
  const jobs: string[] = [];
  for (const e of t.exports) {
    const node = `mig-nbd-${e.device}`;
    await sc.execute('blockdev-add', {
      driver: 'nbd',
      'node-name': node,
      server: { type: 'inet', host: t.host.replace(/^\[|\]$/g, ''), port: String(t.port) },
      export: e.name,
      // Fail fast when the destination goes away instead of reconnecting.
      'reconnect-delay': 0,
    });
    const job = `mig-mirror-${e.device}`;
    await sc.execute('blockdev-mirror', {
      'job-id': job,
      device: e.device,
      target: node,
      sync: o.syncTop && e.device === 'disk0' ? 'top' : 'full',
      ...(o.bandwidthBytesPerSec ? { speed: Math.round(o.bandwidthBytesPerSec) } : {}),
      'auto-finalize': true,
      // Kept after it ends, so that its error can be read (query-jobs) before it is dismissed.
      'auto-dismiss': false,
    });
    jobs.push(job);
  }
  return jobs;
}

interface Job {
  id: string;
  status: string;
  'current-progress': number;
  error?: string;
}

/** Bytes the mirror jobs copied so far and whether all are READY; throws when a job vanished (failed). */
export async function mirrorProgress(
  sc: QmpClient,
  jobs: string[],
): Promise<{ bytes: number; ready: boolean }> {
  const all = await sc.execute<BlockJob[]>('query-block-jobs');
  let bytes = 0,
    ready = true;
  for (const j of jobs) {
    const q = all.find((x) => x.device === j);
    if (!q || q.status === 'concluded' || q.status === 'aborting' || q.status === 'null') {
      const job = (await sc.execute<Job[]>('query-jobs')).find((x) => x.id === j);
      throw new Error(`the disk mirror ${j} stopped: ${job?.error ?? 'the NBD connection was lost'}`);
    }
    bytes += q.offset;
    if (!q.ready) ready = false;
  }
  return { bytes, ready };
}

/** Wait until every mirror job is READY; returns the bytes copied. */
export async function waitMirrorsReady(sc: QmpClient, jobs: string[], deadline: number): Promise<number> {
  for (;;) {
    const p = await mirrorProgress(sc, jobs);
    if (p.ready) return p.bytes;
    if (Date.now() > deadline)
      throw new Error(`the disk mirror did not catch up in time (${p.bytes} bytes copied)`);
    await sleep(50);
  }
}

/**
 * Source side, at the switch-over (guest paused): complete each READY job without a pivot
 * (`block-job-cancel` flushes what is left, then the target is an exact copy); returns the bytes copied.
 */
export async function completeMirrors(sc: QmpClient, jobs: string[]): Promise<number> {
  let bytes = 0;
  const all = await sc.execute<BlockJob[]>('query-block-jobs');
  for (const j of jobs) {
    bytes += all.find((x) => x.device === j)?.offset ?? 0;
    await sc.execute('block-job-cancel', { device: j });
  }
  for (let i = 0; ; i++) {
    const left = (await sc.execute<Job[]>('query-jobs')).filter((x) => jobs.includes(x.id));
    const failed = left.find((x) => x.error);
    if (failed) throw new Error(`the disk mirror ${failed.id} failed at the switch-over: ${failed.error}`);
    for (const x of left) if (x.status === 'concluded') await sc.execute('job-dismiss', { id: x.id });
    if (!left.some((x) => x.status !== 'concluded')) break;
    if (i > 1200) throw new Error('the disk mirrors did not complete');
    await sleep(25);
  }
  return bytes;
}

/** Source side, on failure or after the move: cancel the jobs (forced) and delete the NBD client nodes. */
export async function abortMirrors(sc: QmpClient, t: NbdTarget | undefined): Promise<void> {
  if (!t) return;
  for (const e of t.exports)
    await sc
      .execute('block-job-cancel', { device: `mig-mirror-${e.device}`, force: true })
      .catch(() => undefined);
  for (let i = 0; i < 200; i++) {
    const all = await sc.execute<Job[]>('query-jobs').catch(() => [] as Job[]);
    const left = all.filter((x) => x.id.startsWith('mig-mirror-'));
    for (const x of left)
      if (x.status === 'concluded') await sc.execute('job-dismiss', { id: x.id }).catch(() => undefined);
    if (!left.length) break;
    await sleep(25);
  }
  for (const e of t.exports)
    await sc.execute('blockdev-del', { 'node-name': `mig-nbd-${e.device}` }).catch(() => undefined);
}
