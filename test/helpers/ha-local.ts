/** Shared set-up of the HA tests about local volumes, on simulated hosts. */
import type { controlPlane } from './control.ts';

type TestCp = Awaited<ReturnType<typeof controlPlane>>;

/**
 * An HA VM `x` built with a local volume `d`, whose host then fails (powered off, marked failed).
 * @returns the VM's id and its (failed) host's id
 */
export async function haVmOnFailedHost(t: TestCp): Promise<{ id: string; hostId: string }> {
  const a = t.adminToken;
  await t.call(a, 'POST', '/v1/volumes', { name: 'd', sizeGiB: 1 });
  const created = await t.call(a, 'POST', '/v1/vms', {
    name: 'x',
    flavor: 'm1.small',
    image: 'tiny',
    ha: true,
    volumes: ['d'],
  });
  if (created.status !== 202) throw new Error(`vm create: ${created.status} ${JSON.stringify(created.body)}`);
  const id = created.body.vmId as string;
  const hostId = (await t.call(a, 'GET', `/v1/vms/${id}`)).body.hostId as string;
  t.sim.setPower(hostId, false);
  await t.call(a, 'PATCH', `/v1/hosts/${hostId}`, { state: 'failed' });
  return { id, hostId };
}
