import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { checkPlan, planConsolidation, type PlanCluster } from './plan.ts';

const host = (id: string, vcpus = 16, memoryMiB = 32768) => ({ id, name: id, state: 'up' as const, capacity: { vcpus, memoryMiB }, idleW: 100 });
const vm = (id: string, hostId: string, vcpus = 2, memoryMiB = 4096) => ({ id, name: id, hostId, vcpus, memoryMiB, sinceMigrationS: Infinity });
const opts = { spareHosts: 0, holdDownS: 3600, paybackHorizonS: 3600, migrationJPerMiB: 20, bandwidthMbps: 1000 };

test('the least used host is emptied onto the fullest host with room, then switched off', () => {
  const c: PlanCluster = { hosts: [host('a'), host('b'), host('c')], vms: [vm('v1', 'a'), vm('v2', 'b'), vm('v3', 'b'), vm('v4', 'c'), vm('v5', 'c'), vm('v6', 'c')] };
  const p = planConsolidation(c, opts);
  // a (1 VM) empties onto c (fullest), b (2 VMs) onto c too; c ends with 6 × 4096 = 24 GiB ≤ 32 GiB
  assert.deepEqual(p.actions.map((x) => (x.type === 'migrate' ? `${x.vmId}:${x.from}→${x.to}` : `off:${x.hostId}`)), ['v1:a→c', 'v2:b→c', 'v3:b→c', 'off:a', 'off:b']);
  assert.deepEqual(checkPlan(c, p), []);
  assert.equal(p.gainWatts, 200);
  assert.match(p.actions[0]!.reason, /empty a \(13 % used\) to switch it off; c has room/);
});

test('spares stay on; VMs moved recently are held down; moves that do not pay back are not proposed', () => {
  const c: PlanCluster = { hosts: [host('a'), host('b')], vms: [vm('v1', 'a'), vm('v2', 'b')] };
  assert.equal(planConsolidation(c, { ...opts, spareHosts: 1 }).actions.filter((a) => a.type === 'power-off').length, 0);
  const recent = { ...c, vms: [{ ...vm('v1', 'a'), sinceMigrationS: 60 }, { ...vm('v2', 'b'), sinceMigrationS: 60 }] };
  assert.deepEqual(planConsolidation(recent, opts).actions, []);
  // 4 GiB moved at 20 J/MiB = 82 kJ > 100 W × 600 s = 60 kJ: not worth it over a 10-minute horizon
  assert.deepEqual(planConsolidation(c, { ...opts, paybackHorizonS: 600 }).actions, []);
});

test('the checker catches a target without room during the migration and a host switched off with VMs', () => {
  const c: PlanCluster = { hosts: [host('a', 4, 8192), host('b', 4, 8192)], vms: [vm('v1', 'a', 2, 4096), vm('v2', 'b', 2, 6144)] };
  const bad = { actions: [
    { type: 'migrate' as const, vmId: 'v1', vmName: 'v1', from: 'a', to: 'b', reason: '', cost: { timeS: 1, dataMiB: 1 } },
    { type: 'power-off' as const, hostId: 'b', hostName: 'b', reason: '', gain: { wattsSaved: 1 } },
  ], summary: '', gainWatts: 0, costTimeS: 0, costDataMiB: 0 };
  const v = checkPlan(c, bad);
  assert.match(v[0]!.reason, /target b has no room for v1 while it migrates \(4\/4 vCPUs, 10240\/8192 MiB\)/);
  assert.match(v[1]!.reason, /cannot switch b off: v2 still on it/);
});

const arbCluster = fc.integer({ min: 2, max: 10 }).chain((H) => fc.record({
  hosts: fc.constant(Array.from({ length: H }, (_, i) => host(`h${i}`, 16, 32768))),
  vms: fc.array(fc.record({ h: fc.integer({ min: 0, max: H - 1 }), v: fc.integer({ min: 1, max: 8 }), m: fc.constantFrom(512, 2048, 4096, 8192) }), { maxLength: 40 }),
})).map(({ hosts, vms }) => {
  const used = new Map(hosts.map((h) => [h.id, { v: 0, m: 0 }]));
  const ok = vms.filter((x) => { const u = used.get(`h${x.h}`)!; if (u.v + x.v > 16 || u.m + x.m > 32768) return false; u.v += x.v; u.m += x.m; return true; });
  return { hosts, vms: ok.map((x, i) => vm(`v${i}`, `h${x.h}`, x.v, x.m)) } as PlanCluster;
});

test('property: every plan the planner emits passes the checker and keeps every VM on exactly one up host', () => {
  fc.assert(fc.property(arbCluster, (c) => {
    const p = planConsolidation(c, opts);
    assert.deepEqual(checkPlan(c, p), []);
    const where = new Map(c.vms.map((v) => [v.id, v.hostId]));
    for (const a of p.actions) if (a.type === 'migrate') where.set(a.vmId, a.to);
    const off = new Set(p.actions.filter((a) => a.type === 'power-off').map((a) => a.type === 'power-off' ? a.hostId : ''));
    for (const h of where.values()) assert.ok(!off.has(h), 'no VM ends on a switched-off host');
  }), { numRuns: 300, seed: 5 });
});

test('property: the checker catches every capacity violation of a reordered plan', () => {
  fc.assert(fc.property(arbCluster, fc.nat(), (c, seed) => {
    const p = planConsolidation(c, opts);
    if (p.actions.length < 2) return;
    // Move the power-offs to the front: any host that still had VMs must be reported.
    const reordered = { ...p, actions: [...p.actions.filter((a) => a.type === 'power-off'), ...p.actions.filter((a) => a.type === 'migrate')] };
    const offsWithVms = reordered.actions.filter((a) => a.type === 'power-off' && c.vms.some((v) => v.hostId === a.hostId)).length;
    const v = checkPlan(c, reordered);
    assert.ok(v.filter((x) => /cannot switch/.test(x.reason)).length >= offsWithVms, `seed ${seed}`);
  }), { numRuns: 200, seed: 6 });
});
