/**
 * The simulated host driver keeps the network state it is given (across restarts, through its state
 * file), ignores an older revision, and the resync loop gives every host its state again.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { SimHypervisorDriver } from '../src/drivers/sim/sim-driver.ts';
import { SimClock } from '../src/runtime/clock.ts';
import { networkResyncController } from '../src/control/controllers/network-resync.ts';
import { controlPlane } from './helpers/control.ts';

const state = (revision: number) => ({
  revision,
  networks: [
    {
      id: 'n1',
      vni: 7,
      kind: 'tenant' as const,
      cidr: '10.0.0.0/24',
      gatewayIp: '10.0.0.1',
      dhcp: true,
      dnsServers: [],
      mtu: 1450,
      peers: ['192.0.2.2'],
    },
  ],
  ports: [],
});

test('a simulated host keeps its network state across a restart and ignores an older revision', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'nubis-simnet-')), 'sim.json');
  const clock = new SimClock(0);
  const a = new SimHypervisorDriver(clock, { stateFile: file });
  a.setNetwork('h1', state(5));
  a.setNetwork('h1', state(3));
  assert.equal(a.networkOf('h1').revision, 5);
  const b = new SimHypervisorDriver(clock, { stateFile: file });
  assert.deepEqual(b.networkOf('h1'), state(5));
  assert.deepEqual(b.networkOf('h2'), { revision: 0, networks: [], ports: [] });
});

const open: { close: () => Promise<void> }[] = [];
after(async () => {
  for (const x of open) await x.close();
});

test('the resync loop pushes every host its whole state again at a newer revision', async () => {
  const t = await controlPlane(':memory:', 2);
  open.push(t);
  const call = async (method: string, url: string, body?: unknown) => {
    const r = await t.call(t.adminToken, method, url, body);
    assert.ok(r.status < 300, JSON.stringify(r.body));
    return r.body;
  };
  await call('POST', '/v1/networks', { name: 'app', cidr: '10.20.0.0/24' });
  const op = await call('POST', '/v1/vms', {
    name: 'v',
    flavor: 'm1.small',
    image: 'tiny',
    networks: ['app'],
  });
  const host = (await call('GET', `/v1/vms/${op.vmId}`)).hostId as string;
  const before = t.sim.networkOf(host);
  assert.equal(before.ports.length, 1);
  await networkResyncController(t.cp, { intervalS: 60 }).tick(t.clock.now());
  const after = t.sim.networkOf(host);
  assert.ok(after.revision > before.revision);
  assert.deepEqual({ ...after, revision: 0 }, { ...before, revision: 0 });
  const hosts = (await call('GET', '/v1/hosts')) as { id: string }[];
  for (const h of hosts) assert.equal(t.sim.networkOf(h.id).revision, after.revision);
});
