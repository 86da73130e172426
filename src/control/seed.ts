/**
 * Start-up content: a demo data center on first start, and simulated hosts re-created from the
 * database after a restart.
 */
import type { HypervisorDriver } from '../core/hypervisor.ts';
import type { ControlPlane } from './control-plane.ts';
import type { Principal } from './principal.ts';

/**
 * After a restart the simulated hypervisor has forgotten its guests: re-create those the database
 * says exist (the database is the record; simulated hosts follow it).
 */
export async function reconcileSimHosts(cp: ControlPlane, driver: HypervisorDriver): Promise<number> {
  const rows = await cp.db
    .selectFrom('vms')
    .innerJoin('hosts', 'hosts.id', 'vms.host_id')
    .innerJoin('flavors', 'flavors.id', 'vms.flavor_id')
    .select(['vms.id', 'vms.state', 'flavors.vcpus', 'flavors.memory_mib'])
    .where('hosts.driver', '=', 'sim')
    .where('vms.deleted_at', 'is', null)
    .execute();
  let n = 0;
  for (const r of rows) {
    if (await driver.get(r.id)) continue;
    await driver.create({
      id: r.id,
      memoryMiB: r.memory_mib,
      vcpus: r.vcpus,
      image: { kernel: 'image://sim' },
    });
    if (r.state === 'running' || r.state === 'suspended' || r.state === 'building') await driver.start(r.id);
    if (r.state === 'suspended') await driver.pause(r.id);
    n++;
  }
  // A VM left "building" by a crash between its record and its start is running now.
  await cp.db
    .updateTable('vms')
    .set({ state: 'running' })
    .where('state', '=', 'building')
    .where('host_id', 'in', cp.db.selectFrom('hosts').select('id').where('driver', '=', 'sim'))
    .execute();
  return n;
}

/** First-start content of a demo data center: flavors, images, simulated hosts. */
export async function seedDemo(cp: ControlPlane, admin: Principal, hosts = 8): Promise<void> {
  if ((await cp.listFlavors()).length === 0) {
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
  if ((await cp.listImages()).length === 0) {
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
