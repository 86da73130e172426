/**
 * Start-up content: a demo data center on first start, and simulated hosts re-created from the
 * database after a restart.
 */
import { hostRef } from '../core/host-driver.ts';
import type { ControlPlane } from './control-plane.ts';
import type { Principal } from './principal.ts';

/**
 * Simulated hosts without a state file (first start, or a data folder from before they had one)
 * know no guests: re-create those the records say exist, on their hosts, in their states (building
 * VMs are left to the reconciler), and switch off the simulated hosts the records say are off.
 * Returns how many guests were re-created.
 */
export async function reconcileSimHosts(cp: ControlPlane): Promise<number> {
  const hosts = await cp.db.selectFrom('hosts').selectAll().where('driver', '=', 'sim').execute();
  for (const h of hosts.filter((x) => x.state === 'off'))
    await cp.drivers.driverFor(h).power('off', hostRef(h));
  const rows = await cp.db
    .selectFrom('vms')
    .innerJoin('hosts', 'hosts.id', 'vms.host_id')
    .innerJoin('flavors', 'flavors.id', 'vms.flavor_id')
    .select(['vms.id', 'vms.state', 'vms.host_id', 'flavors.vcpus', 'flavors.memory_mib'])
    .where('hosts.driver', '=', 'sim')
    .where('hosts.state', '!=', 'off')
    .where('vms.deleted_at', 'is', null)
    .where('vms.state', '!=', 'building')
    .execute();
  let n = 0;
  for (const r of rows) {
    const driver = cp.drivers.driverFor(hosts.find((h) => h.id === r.host_id)!);
    if (await driver.get(r.id)) continue;
    await driver.create({
      id: r.id,
      memoryMiB: r.memory_mib,
      vcpus: r.vcpus,
      image: { kernel: 'image://sim' },
    });
    if (['running', 'suspended', 'migrating', 'resizing'].includes(r.state)) await driver.start(r.id);
    if (r.state === 'suspended') await driver.pause(r.id);
    n++;
  }
  return n;
}

/** First-start content of a demo data center: flavors, images, simulated hosts. */
export async function seedDemo(cp: ControlPlane, admin: Principal, hosts = 8): Promise<void> {
  if ((await cp.listFlavors(admin)).length === 0) {
    for (const [name, vcpus, memoryMiB, diskGiB] of [
      ['m1.tiny', 1, 512, 1],
      ['m1.small', 1, 2048, 20],
      ['m1.medium', 2, 4096, 40],
      ['m1.large', 4, 8192, 80],
      ['m1.xlarge', 8, 16384, 160],
    ] as const) {
      await cp.createFlavor(admin, { name, vcpus, memoryMiB, diskGiB });
    }
  }
  if ((await cp.listImages(admin)).length === 0) {
    await cp.createImage(admin, { name: 'tiny', format: 'kernel+initramfs', sizeMiB: 16 });
    await cp.createImage(admin, { name: 'debian-12', format: 'qcow2', sizeMiB: 2048 });
  }
  if ((await cp.listHosts(admin)).length === 0) {
    for (let i = 1; i <= hosts; i++) {
      await cp.createHost(admin, {
        name: `sim-${String(i).padStart(3, '0')}`,
        vcpus: 32,
        memoryMiB: 131072,
        diskGiB: 2000,
        rack: `r${Math.ceil(i / 4)}`,
        driver: 'sim',
      });
    }
  }
}

/** The network every project may use (OpenStack's `fixed_network_name`: servers without networks go on it). */
export const SHARED_NETWORK = { name: 'shared', cidr: '10.0.0.0/24' } as const;

/**
 * The shared network `nubis serve` creates on its first start: the admin tenant's, `shared` (every
 * tenant sees it and puts ports on it), with one IPv4 subnet. Returns whether it made it (not when a
 * shared network already exists).
 */
export async function seedSharedNetwork(cp: ControlPlane, admin: Principal): Promise<boolean> {
  if ((await cp.networks.visibleRows(admin)).some((n) => n.shared)) return false;
  const n = await cp.networks.createNetwork(admin, {
    ...SHARED_NETWORK,
    shared: true,
    description: 'Shared by every project',
  });
  const row = (await cp.networks.visibleRows(admin)).find((r) => r.id === n.id)!;
  await cp.subnets.updateSubnet(admin, row.subnet_id!, { name: `${SHARED_NETWORK.name}-subnet` });
  return true;
}

/**
 * The tariff `nubis serve` creates on its first start, so a fresh install bills its usage: "default",
 * EUR, valid from 1970-01-01 and open-ended. Round demo prices, not a recommendation: an admin ends
 * it (PATCH its validTo) before creating tariffs of their own, as windows may not overlap.
 */
export const DEFAULT_TARIFF = {
  name: 'default',
  validFrom: '1970-01-01',
  currency: 'EUR',
  vcpuHour: 0.01,
  memoryGiBHour: 0.005,
  diskGiBHour: 0.0001,
  kWh: 0.25,
} as const;

/** Create {@link DEFAULT_TARIFF} when no tariff exists (call it on a first start only). */
export async function seedDefaultTariff(cp: ControlPlane, admin: Principal): Promise<boolean> {
  if ((await cp.listTariffs(admin)).length) return false;
  await cp.createTariff(admin, { ...DEFAULT_TARIFF });
  return true;
}
