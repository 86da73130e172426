import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parsePolicy } from '../registry.ts';
import { seededRandom } from '../../runtime/random.ts';
import { checkPlan } from './plan.ts';
import {
  DEFAULT_LOAD_OPTIONS,
  planLoadAware,
  planSpread,
  type LoadCluster,
  type LoadHost,
  type LoadVm,
} from './load-plan.ts';

const power = { type: 'linear' as const, idleW: 100, maxW: 200 };
const host = (id: string, state: LoadHost['state'] = 'up'): LoadHost => ({
  id,
  name: id,
  state,
  capacity: { vcpus: 16, memoryMiB: 16384 },
  idleW: 100,
  cpus: 8,
  power,
  bandwidthMbps: 1000,
});
const vm = (id: string, hostId: string, load: number, vcpus = 4, sinceMigrationS = Infinity): LoadVm => ({
  id,
  name: id,
  hostId,
  vcpus,
  memoryMiB: 2048,
  sinceMigrationS,
  history: Array(12).fill(load),
});
const opts = (policy = 'thr-mmt:0.8') => ({
  spareHosts: 0,
  holdDownS: 3600,
  paybackHorizonS: 3600,
  migrationJPerMiB: 20,
  bandwidthMbps: 1000,
  ...DEFAULT_LOAD_OPTIONS,
  policy: parsePolicy(policy) as Extract<ReturnType<typeof parsePolicy>, { type: 'migration' }>,
});
const show = (p: ReturnType<typeof planLoadAware>) =>
  p.actions.map((a) => (a.type === 'migrate' ? `${a.vmId}:${a.from}→${a.to}` : `${a.type}:${a.hostId}`));

test('an overloaded host is relieved onto a switched-off host switched on for it, with the reason and the load moved', () => {
  // h0: 3 VMs × 4 vCPUs at 70 % = 8.4 of 8 cores (105 %) > 80 %; h1 is full of vCPU slots; h2 is off.
  const c: LoadCluster = {
    hosts: [host('h0'), host('h1'), host('h2', 'off')],
    vms: [
      vm('a', 'h0', 0.7),
      vm('b', 'h0', 0.7),
      vm('c', 'h0', 0.7),
      ...['d', 'e', 'f', 'g'].map((x) => vm(x, 'h1', 0.3)),
    ],
  };
  const p = planLoadAware(c, opts(), seededRandom(1));
  assert.deepEqual(show(p).slice(0, 2), ['power-on:h2', 'a:h0→h2']);
  const m = p.actions[1]!;
  assert.ok(m.type === 'migrate');
  assert.match(m.reason, /h0 is overloaded \(CPU 105 %, thr-mmt:0.8\); a \(35 % of the host\) moves to h2/);
  assert.equal(m.gain?.loadMoved, 0.35);
  assert.ok(m.cost.timeS > 0 && m.cost.dataMiB > 1000);
  assert.match(p.summary, /relieve 1 overloaded host\(s\), switch on 1 host\(s\)/);
  assert.deepEqual(checkPlan(c, p), []);
});

test('underloaded hosts are emptied and switched off; held-down VMs and moves that do not pay back stay', () => {
  // A linear power model makes every target cost the same: PABFD then takes the lowest id (h1).
  const c: LoadCluster = {
    hosts: [host('h0'), host('h1'), host('h2')],
    vms: [vm('a', 'h0', 0.1), vm('b', 'h1', 0.2), vm('c', 'h2', 0.3)],
  };
  const p = planLoadAware(c, opts(), seededRandom(1));
  assert.deepEqual(show(p), ['a:h0→h1', 'c:h2→h1', 'power-off:h0', 'power-off:h2']);
  assert.match(p.actions[0]!.reason, /empty h0 \(CPU 5 %, underloaded\) to switch it off; h1 has room/);
  assert.deepEqual(checkPlan(c, p), []);
  const held = { ...c, vms: [vm('a', 'h0', 0.1, 4, 60), vm('b', 'h1', 0.2), vm('c', 'h2', 0.3)] };
  assert.deepEqual(show(planLoadAware(held, opts(), seededRandom(1))), ['c:h2→h1', 'power-off:h2']);
  assert.deepEqual(planLoadAware(c, { ...opts(), paybackHorizonS: 60 }, seededRandom(1)).actions, []);
});

test('vCPU slots hold as well as cycles: a host with idle cores but no slots left takes nothing', () => {
  // h1 has 16 of 16 vCPU slots taken by idle VMs: PABFD would like its free cycles, the slots say no.
  const c: LoadCluster = {
    hosts: [host('h0'), host('h1'), host('h2', 'off')],
    vms: [
      vm('a', 'h0', 0.9),
      vm('b', 'h0', 0.9),
      vm('c', 'h0', 0.9),
      ...['d', 'e', 'f', 'g'].map((x) => vm(x, 'h1', 0)),
    ],
  };
  const p = planLoadAware(c, opts(), seededRandom(1));
  assert.ok(p.actions.every((a) => a.type !== 'migrate' || a.to !== 'h1'));
  assert.deepEqual(checkPlan(c, p), []);
});

const arb = fc
  .record({
    H: fc.integer({ min: 2, max: 8 }),
    vms: fc.array(
      fc.record({
        h: fc.nat(),
        load: fc.double({ min: 0, max: 1, noNaN: true }),
        v: fc.constantFrom(1, 2, 4),
      }),
      { maxLength: 30 },
    ),
    off: fc.nat(),
    policy: fc.constantFrom('thr-mmt:0.8', 'mad-mmt:2.5', 'lr-mmt:1.2', 'iqr-mc:1.5', 'thr-mu:0.7'),
  })
  .map(({ H, vms, off, policy }) => {
    const hosts = Array.from({ length: H }, (_, i) => host(`h${i}`, i === off % H && i > 0 ? 'off' : 'up'));
    const slots = new Map(hosts.map((h) => [h.id, 0]));
    const out: LoadVm[] = [];
    vms.forEach((x, i) => {
      const h = hosts[x.h % H]!;
      if (h.state !== 'up' || slots.get(h.id)! + x.v > 16 || (slots.get(h.id)! / 4 + 1) * 2048 > 16384)
        return;
      slots.set(h.id, slots.get(h.id)! + x.v);
      out.push({
        ...vm(`v${i}`, h.id, x.load, x.v),
        history: Array.from({ length: 12 }, (_, k) =>
          Math.min(1, Math.max(0, x.load + 0.05 * Math.sin(k + i))),
        ),
      });
    });
    return { c: { hosts, vms: out } as LoadCluster, policy };
  });

test('property: every load-aware plan passes the checker, and the same inputs give the same plan', () => {
  fc.assert(
    fc.property(arb, fc.nat(), ({ c, policy }, seed) => {
      const p = planLoadAware(c, opts(policy), seededRandom(seed));
      assert.deepEqual(checkPlan(c, p), []);
      assert.deepEqual(planLoadAware(c, opts(policy), seededRandom(seed)), p);
    }),
    { numRuns: 300, seed: 10 },
  );
});

test('spread rebalancing evens hosts that differ by more than the gap, never breaking capacity', () => {
  const c: LoadCluster = {
    hosts: [host('h0'), host('h1'), host('h2')],
    vms: [vm('a', 'h0', 0.8), vm('b', 'h0', 0.8), vm('c', 'h0', 0.4), vm('d', 'h1', 0.2)],
  };
  const p = planSpread(c, { gap: 0.2, holdDownS: 3600, bandwidthMbps: 1000 });
  assert.ok(p.actions.length >= 1);
  assert.match(p.actions[0]!.reason, /rebalance: h0 at CPU 100 %, h2 at 0 % \(gap 100 % > 20 %\)/);
  assert.deepEqual(checkPlan(c, p), []);
  assert.equal(planSpread(c, { gap: 1, holdDownS: 3600, bandwidthMbps: 1000 }).actions.length, 0);
  fc.assert(
    fc.property(arb, ({ c: c2 }) => {
      const q = planSpread(c2, { gap: 0.2, holdDownS: 3600, bandwidthMbps: 1000 });
      assert.deepEqual(checkPlan(c2, q), []);
      const gap = (moves: typeof q.actions) => {
        const where = new Map(c2.vms.map((v) => [v.id, v.hostId]));
        for (const a of moves) if (a.type === 'migrate') where.set(a.vmId, a.to);
        const u = c2.hosts
          .filter((h) => h.state === 'up')
          .map(
            (h) =>
              c2.vms
                .filter((v) => where.get(v.id) === h.id)
                .reduce((s, v) => s + v.history[0]! * v.vcpus, 0) / h.cpus,
          );
        return Math.max(...u) - Math.min(...u);
      };
      assert.ok(gap(q.actions) <= gap([]) + 1e-9, 'never widens the gap');
    }),
    { numRuns: 200, seed: 11 },
  );
});
