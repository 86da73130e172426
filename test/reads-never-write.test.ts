/**
 * Reads never write (issue 10): every GET of the API, as admin, issues no INSERT, UPDATE or DELETE,
 * even when a simulated host's boot time has passed and energy has not been integrated for an hour
 * (boot promotion and energy integration are the controllers' work, not the readers').
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type {
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  RootOperationNode,
} from 'kysely';
import { buildApi } from '../src/api/server.ts';
import { ControlPlane, seedDemo } from '../src/control/control-plane.ts';
import { openStore } from '../src/control/store/open-store.ts';
import { createHostDrivers } from '../src/drivers/host-drivers.ts';
import { createImageFiles } from '../src/drivers/image-files.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimHypervisorDriver } from '../src/drivers/sim/sim-driver.ts';
import { SimClock } from '../src/runtime/clock.ts';
import { storeBackends } from './helpers/control.ts';

const WRITE_KINDS = new Set(['InsertQueryNode', 'UpdateQueryNode', 'DeleteQueryNode', 'MergeQueryNode']);

/** A kysely plugin that notes every statement that writes (query builders and raw SQL alike). */
class WriteLog implements KyselyPlugin {
  writes: string[] = [];
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    const n = args.node;
    if (WRITE_KINDS.has(n.kind)) this.writes.push(`${n.kind}${tableOf(n)}`);
    else if (n.kind === 'RawNode') {
      const text = n.sqlFragments.join('?');
      if (/^\s*(insert|update|delete|replace|merge|create|drop|alter|truncate)\b/i.test(text))
        this.writes.push(`raw: ${text.slice(0, 80)}`);
    }
    return n;
  }
  async transformResult(args: PluginTransformResultArgs) {
    return args.result;
  }
}

function tableOf(n: RootOperationNode): string {
  const t =
    (n as { into?: unknown; table?: unknown; from?: unknown }).into ?? (n as { table?: unknown }).table;
  const name = JSON.stringify(t ?? (n as { from?: unknown }).from ?? '').match(/"name":"(\w+)"/)?.[1];
  return name ? ` ${name}` : '';
}

/** Query values for the parameters the GET routes take (by name). */
const QUERY: Record<string, string> = {
  from: '2027-01-01T00:00:00Z',
  to: '2027-03-01T00:00:00Z',
};

for (const backend of storeBackends()) {
  describe(`reads never write (${backend.name})`, () => {
    if (backend.skip) return void test('every GET route as admin', { skip: backend.skip });
    test('a sweep of every GET route as admin issues no INSERT, UPDATE or DELETE', async () => {
      const { url, drop } = await backend.url();
      const raw = await openStore(url);
      const log = new WriteLog();
      const db = raw.withPlugin(log);
      const clock = new SimClock(Date.UTC(2027, 1, 1) / 1000);
      const cp = new ControlPlane({
        db,
        clock,
        hostDrivers: createHostDrivers({ sim: new SimHypervisorDriver(clock) }),
        simBootS: 120,
        imageFiles: createImageFiles(mkdtempSync(join(tmpdir(), 'nubis-rnw-images-'))),
      });
      const app = buildApi(cp);
      try {
        const token = (await cp.bootstrap('admin-token'))!;
        await seedDemo(cp, (await cp.authenticate(token))!, 3);
        const call = async (method: string, path: string, body?: unknown) => {
          const r = await app.inject({
            method: method as 'GET',
            url: path,
            headers: { authorization: `Bearer ${token}` },
            ...(body !== undefined ? { payload: body as object } : {}),
          });
          return {
            status: r.statusCode,
            body: (r.body && r.body[0] === '{') || r.body[0] === '[' ? JSON.parse(r.body) : r.body,
          };
        };
        const ok = async (method: string, path: string, body?: unknown) => {
          const r = await call(method, path, body);
          assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
          return r.body;
        };
        // Something of every kind to read.
        const op = await ok('POST', '/v1/vms', { name: 'web-1', flavor: 'm1.small', image: 'tiny' });
        await ok('POST', '/v1/vms', { name: 'web-2', flavor: 'm1.small', image: 'tiny' });
        await ok('POST', '/v1/metrics', { samples: [{ vm: 'web-1', cpu: 0.5 }] });
        const group = await ok('POST', '/v1/scaling-groups', {
          name: 'api',
          flavor: 'm1.tiny',
          image: 'tiny',
          min: 1,
          max: 2,
          policy: {
            metric: 'cpu',
            scaleOutAbove: 80,
            scaleInBelow: 10,
            adjustmentType: 'change',
            adjustment: 1,
            cooldownS: 60,
          },
        });
        await ok('POST', '/v1/tariffs', {
          name: 'standard',
          validFrom: '2027-01-01T00:00:00Z',
          vcpuHour: 0.01,
          memoryGiBHour: 0.005,
          diskGiBHour: 0.0001,
          kWh: 0.2,
        });
        const constraint = await ok('POST', '/v1/constraints', {
          name: 'web-apart',
          type: 'anti-affinity',
          vms: ['web-1', 'web-2'],
        });
        const sg = await ok('POST', '/v1/server-groups', { name: 'apart', policy: 'anti-affinity' });
        const me = await ok('GET', '/v1/me');
        const net = await ok('POST', '/v1/networks', { name: 'app', cidr: '10.20.0.0/24' });
        await ok('POST', '/v1/networks', {
          name: 'public',
          external: true,
          cidr: '203.0.113.0/24',
          pool: '203.0.113.10-203.0.113.20',
        });
        const port = await ok('POST', '/v1/ports', { network: net.id });
        const web = await ok('POST', '/v1/security-groups', { name: 'web' });
        const key = await ok('POST', '/v1/keypairs', {
          name: 'k',
          publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl',
        });
        const fip = await ok('POST', '/v1/floating-ips', {});
        const disk = Buffer.alloc(1024);
        disk[510] = 0x55;
        disk[511] = 0xaa;
        const uploaded = await app.inject({
          method: 'POST',
          url: '/v1/images/disk/data',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
          payload: disk,
        });
        assert.equal(uploaded.statusCode, 201, uploaded.body);
        const volume = await ok('POST', '/v1/volumes', { name: 'v', sizeGiB: 1 });
        const plan = await ok('POST', '/v1/plans', {});
        const hosts = (await ok('GET', '/v1/hosts')) as { id: string; name: string; vms: number }[];
        const empty = hosts.find((h) => h.vms === 0)!;
        await ok('POST', `/v1/hosts/${empty.id}/power`, { action: 'off' });
        await ok('POST', `/v1/hosts/${empty.id}/power`, { action: 'on' });
        assert.equal((await ok('GET', `/v1/hosts/${empty.id}`)).state, 'booting');
        // The boot time passes, and energy is an hour behind: a reader that promoted or integrated would write.
        clock.advanceBy(3600);

        const ids: Record<string, string> = {
          hosts: empty.id,
          vms: op.vmId,
          plans: plan.id,
          'scaling-groups': group.id,
          operations: op.id,
          constraints: constraint.id,
          'server-groups': sg.id,
          tenants: me.tenantId,
          networks: net.id,
          ports: port.id,
          'security-groups': web.id,
          keypairs: key.id,
          'floating-ips': fip.id,
          images: JSON.parse(uploaded.body).id,
          volumes: volume.id,
        };
        type Op = { parameters?: { name: string; in: string }[] };
        const spec = (await ok('GET', '/openapi.json')) as { paths: Record<string, Record<string, Op>> };
        const gets = Object.entries(spec.paths).filter(([, ops]) => ops.get);
        assert.ok(gets.length >= 20, `the sweep found only ${gets.length} GET routes`);
        log.writes = [];
        const swept: string[] = [];
        const extra: [string, Record<string, Op>][] = [
          ['/metrics', {}],
          ['/healthz', {}],
          ['/openapi.json', {}],
        ];
        for (const [template, ops] of [...gets, ...extra]) {
          if (template.startsWith('/v1/simulations')) continue; // saved runs are files, not rows
          if (template.startsWith('/v1/agents/')) continue; // hosts' routes: a host credential, not a user token
          const path = template.replace(/\{(\w+)\}/g, (_m, name: string) => {
            const resource = template.split('/')[2]!;
            const id = ids[resource];
            assert.ok(id, `no fixture for {${name}} of GET ${template}: add one to the sweep`);
            return encodeURIComponent(id);
          });
          const query = (ops.get?.parameters ?? [])
            .filter((x) => x.in === 'query' && QUERY[x.name])
            .map((x) => `${x.name}=${encodeURIComponent(QUERY[x.name]!)}`)
            .join('&');
          const variants =
            template === '/v1/energy' ? ['host', 'zone', 'tenant'].map((b) => `&by=${b}`) : [''];
          for (const v of variants) {
            const full = query || v ? `${path}?${query}${v}` : path;
            const r = await call('GET', full);
            assert.equal(r.status, 200, `GET ${full}: ${r.status} ${JSON.stringify(r.body)}`);
            assert.deepEqual(log.writes, [], `GET ${full} wrote`);
            swept.push(full);
          }
        }
        assert.ok(swept.some((s) => s.startsWith('/v1/hosts/')));
        // The booted host is still "booting" until the boot controller ticks: no reader promoted it.
        assert.equal((await ok('GET', `/v1/hosts/${empty.id}`)).state, 'booting');
        assert.deepEqual(log.writes, []);
        // The log does see writes (so an empty log above means something).
        await ok('POST', '/v1/metrics', { samples: [{ vm: 'web-1', cpu: 0.2 }] });
        assert.ok(log.writes.length > 0, 'the write log saw the metrics report');
      } finally {
        await app.close();
        await raw.destroy();
        await drop();
      }
    });
  });
}
