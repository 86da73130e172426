/**
 * The agent's network routes without touching the host: authentication, validation of every field
 * before anything is written or run (fuzzed), 501 on an agent without a data plane, and guest NICs
 * that could smuggle options into QEMU's command line refused.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { buildAgentServer } from '../src/agent/agent-server.ts';
import { NetworkAgent } from '../src/agent/network/net-converge.ts';
import { tapName } from '../src/core/network/host-network.ts';
import { QemuDriver } from '../src/drivers/qemu/qemu-driver.ts';

const root = mkdtempSync(join(tmpdir(), 'nubis-agent-net-'));
after(() => rmSync(root, { recursive: true, force: true }));
const netDir = join(root, 'network');

async function agent(withNetwork: boolean) {
  const driver = await QemuDriver.open({
    stateDir: join(root, 'state'),
    accel: 'tcg',
    imageDirs: [root],
    qemuBinary: 'true',
  });
  const network = new NetworkAgent({ stateDir: netDir, underlayIp: '192.0.2.1', guestHere: () => false });
  const app = buildAgentServer({ driver, token: 'k', ...(withNetwork ? { network } : {}) });
  await app.ready();
  return { app, driver };
}
const auth = { authorization: 'Bearer k' };

const valid = () => ({
  revision: 1,
  networks: [
    {
      id: 'n1',
      vni: 7,
      kind: 'tenant',
      cidr: '10.0.0.0/24',
      gatewayIp: '10.0.0.1',
      dhcp: true,
      dnsServers: [],
      mtu: 1450,
      peers: [] as string[],
    },
  ],
  ports: [
    {
      id: 'p1',
      guestId: 'g1',
      networkId: 'n1',
      tap: tapName('p1'),
      mac: '02:00:00:00:00:01',
      ips: ['10.0.0.5'],
      rules: [],
      floatingIp: null,
      metadata: { instanceId: 'g1', hostname: 'g1', publicKeys: {}, userData: null, availabilityZone: null },
    },
  ],
});

test('network routes: token required, 501 without a data plane, GET gives the held state', async () => {
  const a = await agent(false);
  assert.equal((await a.app.inject({ method: 'GET', url: '/v1/network' })).statusCode, 401);
  const r = await a.app.inject({ method: 'PUT', url: '/v1/network', headers: auth, payload: valid() });
  assert.equal(r.statusCode, 501);
  await a.app.close();
  const b = await agent(true);
  const g = await b.app.inject({ method: 'GET', url: '/v1/network', headers: auth });
  assert.deepEqual(g.json(), { revision: 0, networks: [], ports: [] });
  await b.app.close();
  await b.driver.close();
  await a.driver.close();
});

test('a bad network state is refused (400) before anything is written or run', async () => {
  const a = await agent(true);
  const mutate: ((s: ReturnType<typeof valid>) => unknown)[] = [
    (s) => (s.ports[0]!.tap = 'eth0'),
    (s) => (s.ports[0]!.mac = '02:00:00:00:00:01 ; reboot'),
    (s) => (s.ports[0]!.ips = ['10.1.0.5']),
    (s) => (s.networks[0]!.peers = ['$(reboot)']),
    (s) => (s.networks[0]!.vni = 0),
    (s) => (s.networks[0]!.gatewayIp = '10.9.9.9'),
    (s) => ((s as Record<string, unknown>).extra = 1),
    (s) => (s.ports[0]!.networkId = 'n2'),
  ];
  for (const m of mutate) {
    const s = valid();
    m(s);
    const r = await a.app.inject({ method: 'PUT', url: '/v1/network', headers: auth, payload: s });
    assert.equal(r.statusCode, 400, JSON.stringify(s));
    assert.equal(r.json().code, 'BAD_REQUEST');
  }
  await fc.assert(
    fc.asyncProperty(fc.jsonValue(), async (body) => {
      const r = await a.app.inject({
        method: 'PUT',
        url: '/v1/network',
        payload: JSON.stringify(body),
        headers: { ...auth, 'content-type': 'application/json' },
      });
      assert.equal(r.statusCode, 400);
    }),
    { numRuns: 200 },
  );
  assert.equal(existsSync(join(netDir, 'state.json')), false, 'nothing was accepted');
  await a.app.close();
  await a.driver.close();
});

test('guest NICs that could reach QEMU option strings are refused', async () => {
  const a = await agent(true);
  for (const nic of [
    { portId: 'p1', mac: '02:00:00:00:00:01', tap: 'nt1234abcd,script=/tmp/x' },
    { portId: 'p1', mac: '02:00:00:00:00:01,romfile=/etc/shadow', tap: tapName('p1') },
    { portId: '../p', mac: '02:00:00:00:00:01', tap: tapName('p1') },
  ]) {
    const r = await a.app.inject({
      method: 'POST',
      url: '/v1/guests',
      headers: auth,
      payload: { id: 'g1', memoryMiB: 128, vcpus: 1, image: { kernel: join(root, 'k') }, nics: [nic] },
    });
    assert.equal(r.statusCode, 400, JSON.stringify(nic));
  }
  await a.app.close();
  await a.driver.close();
});
