/**
 * BtrPlace's constraint catalog through the API (issue 14): tenants set the VM rules over their own
 * VMs, operators the host rules; the scheduler and `migrate --to` honour them; errors name the type,
 * the field and what is accepted.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { controlPlane } from './helpers/control.ts';

type Api = Awaited<ReturnType<typeof controlPlane>>;

/** Two tenants (acme with member mia, globex with member gus) and an operator, oda; 3 hosts. */
async function world() {
  const t: Api = await controlPlane(':memory:', 0);
  const a = t.adminToken;
  const hosts: Record<string, string> = {};
  for (const name of ['h1', 'h2', 'h3']) {
    const r = await t.call(a, 'POST', '/v1/hosts', {
      name,
      vcpus: 16,
      memoryMiB: 32768,
      diskGiB: 500,
      zone: name === 'h3' ? 'z2' : 'z1',
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    hosts[name] = r.body.id;
  }
  const tok: Record<string, string> = {};
  for (const [tenant, name, role] of [
    ['acme', 'mia', 'member'],
    ['globex', 'gus', 'member'],
    ['acme', 'oda', 'operator'],
  ] as const) {
    if (!(await t.call(a, 'GET', `/v1/tenants/${tenant}`)).body?.id)
      await t.call(a, 'POST', '/v1/tenants', {
        name: tenant,
        quotas: { vcpus: 64, memoryMiB: 262144, vms: 20 },
      });
    const u = await t.call(a, 'POST', '/v1/users', { tenant, name, role });
    tok[name] = (await t.call(a, 'POST', '/v1/tokens', { name, userId: u.body.id })).body.token;
  }
  const vm = async (who: string, name: string, body: Record<string, unknown> = {}) => {
    const r = await t.call(tok[who] ?? who, 'POST', '/v1/vms', {
      name,
      flavor: 'm1.small',
      image: 'tiny',
      ...body,
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    return r.body.vmId as string;
  };
  const hostOf = async (id: string) =>
    ((await t.call(a, 'GET', '/v1/vms')).body as { id: string; hostId: string }[]).find((v) => v.id === id)!
      .hostId;
  return { t, a, tok, hosts, vm, hostOf, close: () => t.close() };
}

test('tenants set the VM rules over their own VMs; host rules are for operators; others VMs are not found', async () => {
  const w = await world();
  try {
    await w.vm('mia', 'web-1');
    await w.vm('mia', 'web-2');
    await w.vm('mia', 'db');
    await w.vm('gus', 'theirs');
    const post = (who: string, body: Record<string, unknown>) =>
      w.t.call(w.tok[who]!, 'POST', '/v1/constraints', body);
    const split = await post('mia', { name: 's', type: 'split', vmGroups: [['web-1'], ['web-2', 'db']] });
    assert.equal(split.status, 201, JSON.stringify(split.body));
    assert.deepEqual(split.body.vmGroups, [['web-1'], ['web-2', 'db']]);
    assert.equal(split.body.label, 'split "s"');
    for (const body of [
      { name: 'g', type: 'gather', vms: ['web-1', 'web-2'] },
      {
        name: 'am',
        type: 'among',
        vms: ['db'],
        hostGroups: [{ where: { zone: 'z1' } }, { where: { zone: 'z2' } }],
      },

      { name: 'ro', type: 'root', vms: ['db'] },
      { name: 'pr', type: 'preserve', vms: ['db'], resource: 'memoryMiB', amount: 1024 },
      { name: 'nd', type: 'noDelay', vms: ['db'] },
    ]) {
      const r = await post('mia', body);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.deepEqual(r.body.violations, [], `${body.type} holds now`);
    }
    // VMs are packed on h1 with gus's: a lonely db is broken now, and the other tenant's VM is not named.
    const lo = await post('mia', { name: 'lo', type: 'lonely', vms: ['db'], continuous: true });
    assert.equal(lo.status, 201, JSON.stringify(lo.body));
    assert.equal(lo.body.violations.length, 1);
    const [, strangers] = /^lonely "lo": (.+) on h1 beside db$/.exec(lo.body.violations[0]) ?? [];
    assert.deepEqual(strangers?.split(', ').sort(), ["another tenant's VM", 'web-1', 'web-2']);
    // Another tenant's VM is not found (404), never forbidden.
    const other = await post('mia', { name: 'x', type: 'root', vms: ['theirs'] });
    assert.equal(other.status, 404);
    // Per server group: its members now; another tenant's group is not found.
    assert.equal(
      (await w.t.call(w.tok.mia!, 'POST', '/v1/server-groups', { name: 'web', policy: 'soft-anti-affinity' }))
        .status,
      201,
    );
    await w.vm('mia', 'web-3', { serverGroup: 'web' });
    await w.vm('mia', 'web-4', { serverGroup: 'web' });
    const byGroup = await post('mia', { name: 'web-root', type: 'root', serverGroup: 'web', vms: ['db'] });
    assert.equal(byGroup.status, 201, JSON.stringify(byGroup.body));
    assert.deepEqual(byGroup.body.vms.map((v: { name: string }) => v.name).sort(), ['db', 'web-3', 'web-4']);
    assert.equal((await post('gus', { name: 'x', type: 'root', serverGroup: 'web' })).status, 404);
    // Host rules: 403 for a member, naming who may; an operator sets them.
    const q = await post('mia', { name: 'q', type: 'quarantine', where: { zone: 'z2' } });
    assert.equal(q.status, 403);
    assert.match(q.body.message, /quarantine is a rule about hosts: operators and admins set it/);
    for (const body of [
      { name: 'q', type: 'quarantine', hosts: ['h3'] },
      { name: 'mo', type: 'maxOnline', where: { zone: 'z1' }, max: 2 },
      { name: 'rc', type: 'runningCapacity', hosts: ['h1', 'h2'], max: 10 },
      { name: 'ob', type: 'overbook', where: { zone: 'z1' }, resource: 'vcpus', ratio: 4 },
    ]) {
      const r = await post('oda', body);
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
    // The member's list has their constraints, none of another tenant's names.
    const list = (await w.t.call(w.tok.mia!, 'GET', '/v1/constraints')).body as { name: string }[];
    assert.ok(list.some((c) => c.name === 'lo'));
    assert.ok(!JSON.stringify(list).includes('theirs'));
    // A member may not delete an operator's host rule; the operator may.
    assert.equal((await w.t.call(w.tok.mia!, 'DELETE', '/v1/constraints/q')).status, 403);
    assert.equal((await w.t.call(w.tok.gus!, 'DELETE', '/v1/constraints/lo')).status, 404);
    assert.equal((await w.t.call(w.tok.oda!, 'DELETE', '/v1/constraints/q')).status, 204);
  } finally {
    await w.close();
  }
});

test('validation names the type, the field and what the type accepts', async () => {
  const w = await world();
  try {
    await w.vm('mia', 'a');
    const post = (body: Record<string, unknown>) => w.t.call(w.tok.mia!, 'POST', '/v1/constraints', body);
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ name: 'x', type: 'split', vms: ['a'] }, /vms is not a field of split; split takes: vmGroups/],
      [{ name: 'x', type: 'splitAmong', vmGroups: [['a']] }, /A splitAmong needs hostGroups/],
      [
        { name: 'x', type: 'lonely', vms: ['a'], ratio: 2 },
        /ratio is not a field of lonely; lonely takes: vms \(optional\); continuous \(optional\)/,
      ],
      [{ name: 'x', type: 'preserve', vms: ['a'], resource: 'vcpus' }, /A preserve needs amount/],
      [
        { name: 'x', type: 'among', vms: ['a'], hostGroups: [{}] },
        /hostGroups\[0\] needs hosts \(names or ids\) or where/,
      ],
      [{ name: 'x', type: 'split', vmGroups: [['a'], ['a']] }, /VM a is in two VM groups|in two VM groups/],
    ];
    for (const [body, msg] of cases) {
      const r = await post(body);
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.match(r.body.message, msg);
    }
    const r = await w.t.call(w.tok.oda!, 'POST', '/v1/constraints', {
      name: 'x',
      type: 'overbook',
      hosts: ['h1'],
      resource: 'vcpus',
    });
    assert.equal(r.status, 400);
    assert.match(r.body.message, /An? overbook needs ratio/);
  } finally {
    await w.close();
  }
});

test('the scheduler keeps new VMs off a quarantined host, and migrate --to refuses to move a rooted VM', async () => {
  const w = await world();
  try {
    const q = await w.t.call(w.tok.oda!, 'POST', '/v1/constraints', {
      name: 'q',
      type: 'quarantine',
      hosts: ['h1'],
    });
    assert.equal(q.status, 201, JSON.stringify(q.body));
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push(await w.vm(w.a, `v${i}`, { preset: 'spread' }));
    for (const id of ids) assert.notEqual(await w.hostOf(id), w.hosts.h1);
    // What an overbook breaks now is judged on the hosts' physical capacity and counters.
    const ob = await w.t.call(w.tok.oda!, 'POST', '/v1/constraints', {
      name: 'tight',
      type: 'overbook',
      where: { zone: 'z1' },
      resource: 'vcpus',
      ratio: 0.01,
    });
    assert.equal(ob.status, 201, JSON.stringify(ob.body));
    assert.match(
      ob.body.violations.join('; '),
      /overbook "tight": \d+ vcpus on h2, above 0.16 \(0.01 × capacity\)/,
    );
    const db = ids[0]!;
    const r = await w.t.call(w.a, 'POST', '/v1/constraints', { name: 'pin', type: 'root', vms: ['v0'] });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const from = await w.hostOf(db);
    const to = [w.hosts.h2, w.hosts.h3].find((h) => h !== from)!;
    const m = await w.t.call(w.a, 'POST', `/v1/vms/${db}/migrate`, { toHost: to });
    assert.equal(m.status, 409, JSON.stringify(m.body));
    assert.equal(m.body.code, 'CONSTRAINT_VIOLATED');
    assert.match(m.body.message, /root "pin": v0 stays on/);
    assert.equal(await w.hostOf(db), from);
  } finally {
    await w.close();
  }
});

test('maxOnline keeps a switched-off host off when the set already has its hosts on', async () => {
  const w = await world();
  try {
    const off = await w.t.call(w.a, 'POST', `/v1/hosts/${w.hosts.h3}/power`, {
      action: 'off',
      reason: 'test',
    });
    assert.equal(off.body.state, 'off', JSON.stringify(off.body));
    for (const h of ['h1', 'h2'])
      await w.t.call(w.a, 'PATCH', `/v1/hosts/${w.hosts[h]}`, { state: 'maintenance' });
    const cap = await w.t.call(w.tok.oda!, 'POST', '/v1/constraints', {
      name: 'two-on',
      type: 'maxOnline',
      hosts: ['h1', 'h2', 'h3'],
      max: 2,
    });
    assert.equal(cap.status, 201, JSON.stringify(cap.body));
    const refused = await w.t.call(w.a, 'POST', '/v1/vms', {
      name: 'wake',
      flavor: 'm1.small',
      image: 'tiny',
    });
    assert.notEqual(refused.body.status, 'succeeded', JSON.stringify(refused.body));
    assert.equal((await w.t.call(w.a, 'GET', `/v1/hosts/${w.hosts.h3}`)).body.state, 'off');
    assert.equal((await w.t.call(w.tok.oda!, 'DELETE', '/v1/constraints/two-on')).status, 204);
    const woke = await w.t.call(w.a, 'POST', '/v1/vms', {
      name: 'wake-2',
      flavor: 'm1.small',
      image: 'tiny',
    });
    assert.equal(woke.body.status, 'succeeded', JSON.stringify(woke.body));
    assert.equal((await w.t.call(w.a, 'GET', `/v1/hosts/${w.hosts.h3}`)).body.state, 'up');
  } finally {
    await w.close();
  }
});
