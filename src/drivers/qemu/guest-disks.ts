/**
 * A QEMU guest's volumes: the QEMU arguments that attach `spec.disks` at start, and hot-plug and
 * unplug on a running guest over QMP. Guests start with HOTPLUG_PORTS PCIe root ports (q35 has no
 * hot-plug on its root bus); each disk sits on one port, its "slot", kept in the agent's copy of the
 * spec so that a restart or a migration's destination puts every disk back where it was. Hot-plug is
 * `blockdev-add` + `device_add virtio-blk-pci`; unplug is `device_del`, the guest's acknowledgement
 * (DEVICE_DELETED; pciehp waits about 5 s after the attention button), then `blockdev-del`.
 */
import { DriverError, type GuestSpec } from '../../core/hypervisor.ts';
import type { GuestDisk } from '../../core/storage/host-storage.ts';
import type { QmpClient, QmpEvent } from './qmp-client.ts';
import type { HostPools } from './storage-pools.ts';

/** PCIe root ports every guest gets: the most volumes a guest can have. */
export const HOTPLUG_PORTS = 8;

/** A disk as the agent stores it in a guest's spec.json: the contract's disk and its port. */
export type SlottedDisk = GuestDisk & { slot?: number };

/** Serials reach QEMU's device options: the contract's shape only (diskSerial()). */
const SERIAL_PATTERN = /^[a-zA-Z0-9_.-]{1,20}$/;

const portId = (slot: number) => `hp${slot}`;
/** QMP node name of the volume on port `slot` (a block mirror of the volume starts from it). */
export const nodeName = (slot: number) => `vd${slot}`;
/** QMP device id of the volume's virtio-blk device on port `slot`. */
export const deviceId = (slot: number) => `vdisk${slot}`;

/**
 * Give every disk a slot: those that have one keep it; the others take the lowest free ones, in order.
 * @throws DriverError BAD_SPEC for too many disks, a repeated volume or slot, a bad serial
 */
export function assignSlots(disks: readonly SlottedDisk[], vmId?: string): Required<SlottedDisk>[] {
  if (disks.length > HOTPLUG_PORTS)
    throw new DriverError(
      'BAD_SPEC',
      `A guest has at most ${HOTPLUG_PORTS} volumes, not ${disks.length}`,
      vmId,
    );
  const used = new Set<number>();
  const seen = new Set<string>();
  for (const d of disks) {
    if (!SERIAL_PATTERN.test(d.serial ?? ''))
      throw new DriverError(
        'BAD_SPEC',
        `Bad disk serial ${JSON.stringify(String(d.serial).slice(0, 40))}: 1-20 letters, digits, '.', '_' or '-' (diskSerial())`,
        vmId,
      );
    const key = `${d.pool?.name}/${d.volumeId}`;
    if (seen.has(key)) throw new DriverError('BAD_SPEC', `Volume ${key} is attached twice`, vmId);
    seen.add(key);
    if (d.slot === undefined) continue;
    if (!(Number.isInteger(d.slot) && d.slot >= 0 && d.slot < HOTPLUG_PORTS) || used.has(d.slot))
      throw new DriverError('BAD_SPEC', `Bad or repeated disk slot ${d.slot} for volume ${key}`, vmId);
    used.add(d.slot);
  }
  let next = 0;
  return disks.map((d) => {
    if (d.slot !== undefined) return d as Required<SlottedDisk>;
    while (used.has(next)) next++;
    used.add(next);
    return { ...d, slot: next };
  });
}

/** QEMU arguments for the root ports and the guest's disks (paths resolved inside their pools). */
export function diskArgs(spec: GuestSpec, pools: HostPools | undefined): string[] {
  const disks = assignSlots((spec.disks ?? []) as SlottedDisk[], spec.id);
  if (disks.length && !pools)
    throw new DriverError('BAD_SPEC', `Guest "${spec.id}" has volumes but this host has no pools`, spec.id);
  const args: string[] = [];
  for (let i = 0; i < HOTPLUG_PORTS; i++)
    args.push('-device', `pcie-root-port,id=${portId(i)},chassis=${i + 1},slot=${i},bus=pcie.0`);
  for (const d of disks) {
    const path = pools!.existing(d.pool.name, d.volumeId);
    // JSON option syntax: no escaping of commas in paths.
    args.push(
      '-blockdev',
      JSON.stringify({
        driver: 'qcow2',
        'node-name': nodeName(d.slot),
        file: { driver: 'file', filename: path },
      }),
      '-device',
      JSON.stringify({
        driver: 'virtio-blk-pci',
        id: deviceId(d.slot),
        drive: nodeName(d.slot),
        bus: portId(d.slot),
        serial: d.serial,
      }),
    );
  }
  return args;
}

/**
 * Hot-plug `disk` into a running guest on a free port; returns the guest's new disks.
 * @throws DriverError ALREADY_EXISTS (attached already), BAD_SPEC (no free port), BACKEND (QMP)
 */
export async function hotPlug(
  qmp: QmpClient,
  spec: GuestSpec,
  disk: GuestDisk,
  pools: HostPools,
): Promise<SlottedDisk[]> {
  const current = assignSlots((spec.disks ?? []) as SlottedDisk[], spec.id);
  if (current.some((d) => d.volumeId === disk.volumeId && d.pool.name === disk.pool.name))
    throw new DriverError(
      'ALREADY_EXISTS',
      `Volume "${disk.volumeId}" is attached to "${spec.id}" already`,
      spec.id,
    );
  const [added] = assignSlots([...current, { ...disk, slot: undefined }], spec.id).slice(-1);
  const slot = added!.slot;
  const path = pools.existing(disk.pool.name, disk.volumeId);
  try {
    await qmp.execute('blockdev-add', {
      driver: 'qcow2',
      'node-name': nodeName(slot),
      file: { driver: 'file', filename: path },
    });
  } catch (e) {
    throw new DriverError(
      'BACKEND',
      `Cannot open volume "${disk.volumeId}": ${(e as Error).message}`,
      spec.id,
    );
  }
  try {
    await qmp.execute('device_add', {
      driver: 'virtio-blk-pci',
      id: deviceId(slot),
      drive: nodeName(slot),
      bus: portId(slot),
      serial: disk.serial,
    });
  } catch (e) {
    await qmp.execute('blockdev-del', { 'node-name': nodeName(slot) }).catch(() => undefined);
    throw new DriverError(
      'BACKEND',
      `Cannot plug volume "${disk.volumeId}": ${(e as Error).message}`,
      spec.id,
    );
  }
  return [...current, added!];
}

/**
 * Unplug volume `volumeId` from a running guest: the guest must let go of it (DEVICE_DELETED) within
 * `timeoutMs`; then the block node is closed. Returns the guest's remaining disks.
 * @throws DriverError NOT_FOUND (not attached), BACKEND (the guest did not release it in time)
 */
export async function hotUnplug(
  qmp: QmpClient,
  spec: GuestSpec,
  volumeId: string,
  timeoutMs = 60_000,
): Promise<SlottedDisk[]> {
  const current = assignSlots((spec.disks ?? []) as SlottedDisk[], spec.id);
  const d = current.find((x) => x.volumeId === volumeId);
  if (!d) throw new DriverError('NOT_FOUND', `Volume "${volumeId}" is not attached to "${spec.id}"`, spec.id);
  const id = deviceId(d.slot);
  let onEvent: ((e: QmpEvent) => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const deleted = new Promise<boolean>((resolve) => {
    onEvent = (e) => {
      if (e.event === 'DEVICE_DELETED' && (e.data as { device?: string } | undefined)?.device === id)
        resolve(true);
    };
    qmp.on('event', onEvent);
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    await qmp.execute('device_del', { id });
    if (!(await deleted))
      throw new DriverError(
        'BACKEND',
        `Guest "${spec.id}" did not release volume "${volumeId}" within ${timeoutMs} ms (is the disk in use, or does the guest lack PCIe hot-plug?)`,
        spec.id,
      );
  } catch (e) {
    if (e instanceof DriverError) throw e;
    throw new DriverError('BACKEND', `Cannot unplug volume "${volumeId}": ${(e as Error).message}`, spec.id);
  } finally {
    clearTimeout(timer);
    qmp.off('event', onEvent!);
  }
  await qmp.execute('blockdev-del', { 'node-name': nodeName(d.slot) }).catch(() => undefined);
  return current.filter((x) => x !== d);
}

/**
 * Internal snapshot of an attached volume while its guest runs (QMP
 * `blockdev-snapshot-internal-sync`; `del`: `blockdev-snapshot-delete-internal-sync`): QEMU, the
 * volume's only writer, writes the snapshot table, so the image stays consistent.
 * @throws DriverError NOT_FOUND (not attached), BACKEND (QMP refused: a name that exists, a missing one)
 */
export async function liveVolumeSnapshot(
  qmp: QmpClient,
  spec: GuestSpec,
  volumeId: string,
  name: string,
  del = false,
): Promise<void> {
  const d = assignSlots((spec.disks ?? []) as SlottedDisk[], spec.id).find((x) => x.volumeId === volumeId);
  if (!d) throw new DriverError('NOT_FOUND', `Volume "${volumeId}" is not attached to "${spec.id}"`, spec.id);
  try {
    await qmp.execute(
      del ? 'blockdev-snapshot-delete-internal-sync' : 'blockdev-snapshot-internal-sync',
      { device: nodeName(d.slot), name },
      120_000,
    );
  } catch (e) {
    const msg = (e as Error).message;
    throw new DriverError(
      /not found|can't find/i.test(msg) ? 'NOT_FOUND' : /exists/i.test(msg) ? 'ALREADY_EXISTS' : 'BACKEND',
      `Cannot ${del ? 'delete' : 'take'} snapshot "${name}" of volume "${volumeId}": ${msg}`,
      spec.id,
    );
  }
}
