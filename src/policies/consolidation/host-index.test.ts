/**
 * The power-increase index must pick exactly the host a plain scan in id order picks (least
 * increase, ties to the lowest id, the first in that order the detector accepts), whatever the
 * models, loads, updates and filters.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  HP_PROLIANT_ML110_G4,
  HP_PROLIANT_ML110_G5,
  powerW,
  type PowerModelSpec,
} from '../../models/power.ts';
import { PowerIncreaseIndex, powerClasses } from './host-index.ts';
import { HostScan } from './host-scan.ts';

const MODELS: PowerModelSpec[] = [
  HP_PROLIANT_ML110_G4,
  HP_PROLIANT_ML110_G5,
  { type: 'linear', idleW: 70, maxW: 250 },
  // not monotone: an index bound must not assume power grows with load
  { type: 'specpower', wattsAt: [100, 90, 95, 95, 120, 110, 130, 131, 150, 149, 160] },
];
const CAPS = [1000, 3720, 5320];

const arbHost = fc.record({
  model: fc.integer({ min: 0, max: MODELS.length - 1 }),
  cap: fc.integer({ min: 0, max: CAPS.length - 1 }),
  // coarse steps make exact ties between hosts common
  alloc: fc.oneof(
    fc.integer({ min: 0, max: 20 }).map((k) => k / 20),
    fc.double({ min: 0, max: 1.05, noNaN: true }),
  ),
  pe: fc.constantFrom(500, 1860, 2660),
  ram: fc.constantFrom(0, 613, 870, 1740, 4096),
  now: fc.constantFrom('power', 'zero', 'other'),
});

const arbCase = fc.record({
  hosts: fc.array(arbHost, { minLength: 1, maxLength: 40 }),
  queries: fc.array(
    fc.record({
      d: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 3000, noNaN: true })),
      r: fc.constantFrom(-Infinity, 613, 1740),
      reject: fc.array(fc.integer({ min: 0, max: 39 }), { maxLength: 6 }),
      moves: fc.array(
        fc.record({
          h: fc.integer({ min: 0, max: 39 }),
          alloc: fc.double({ min: 0, max: 1.1, noNaN: true }),
          drop: fc.boolean(),
        }),
        { maxLength: 4 },
      ),
    }),
    { minLength: 1, maxLength: 12 },
  ),
});

test('property: the index and HostScan pick the same host as the plain scan', () => {
  fc.assert(
    fc.property(arbCase, (c) => {
      const H = c.hosts.length;
      const power = c.hosts.map((x) => MODELS[x.model]!);
      const cap = Float64Array.from(c.hosts, (x) => CAPS[x.cap]!);
      const pe = Float64Array.from(c.hosts, (x) => x.pe);
      const ramTotal = Float64Array.from(c.hosts, () => 4096);
      const freeRam = Float64Array.from(c.hosts, (x) => x.ram);
      const alloc = Float64Array.from(c.hosts, (x, h) => x.alloc * cap[h]!);
      const nowW = Float64Array.from(c.hosts, (x, h) =>
        x.now === 'zero' ? 0 : x.now === 'other' ? 93.7 : powerW(power[h]!, Math.min(1, x.alloc)),
      );
      const present = new Uint8Array(H).fill(1);
      const idx = new PowerIncreaseIndex(powerClasses(power, cap), power, pe, ramTotal);
      const scan = new HostScan(H);
      const put = (h: number) => {
        idx.set(h, alloc[h]!, Math.max(0, cap[h]! - alloc[h]!), freeRam[h]!, nowW[h]!);
        scan.set(h);
      };
      for (let h = 0; h < H; h++) put(h);
      for (const q of c.queries) {
        for (const m of q.moves) {
          const h = m.h % H;
          if (m.drop) {
            idx.delete(h);
            scan.delete(h);
            present[h] = 0;
          } else {
            alloc[h] = m.alloc * cap[h]!;
            present[h] = 1;
            put(h);
          }
        }
        const diff = (h: number): number => {
          if (pe[h]! < q.d || cap[h]! - alloc[h]! < q.d || freeRam[h]! < q.r) return NaN;
          let u = (alloc[h]! + q.d) / cap[h]!;
          if (u > 1) {
            if (u < 1 + 1e-9) u = 1;
            else return NaN;
          }
          return powerW(power[h]!, u) - nowW[h]!;
        };
        const rejected = new Set(q.reject.map((h) => h % H));
        const asked: number[] = [];
        const accept = (h: number) => {
          asked.push(h);
          return !rejected.has(h);
        };
        const got = idx.best(q.d, q.r, { evaluate: diff, accept });
        const askedByIndex = asked.splice(0);
        const gotByScan = scan.best(q.d, q.r, { evaluate: diff, accept });
        assert.equal(gotByScan, got);
        assert.deepEqual(asked, askedByIndex);
        for (let h = 0; h < H; h++) assert.equal(scan.has(h), idx.has(h));
        // the plain scan: rank every present host that fits by (increase, id), ask in that order
        const ranked = [...Array(H).keys()]
          .filter((h) => present[h] && !Number.isNaN(diff(h)))
          .sort((a, b) => diff(a) - diff(b) || a - b);
        const k = ranked.findIndex((h) => !rejected.has(h));
        assert.equal(got, k < 0 ? -1 : ranked[k]);
        assert.deepEqual(asked, k < 0 ? ranked : ranked.slice(0, k + 1));
      }
    }),
    { numRuns: 300 },
  );
});

test('property: with a placement bonus and the slack it bounds, the index still picks the plain scan’s host', () => {
  fc.assert(
    fc.property(
      arbCase,
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 40, maxLength: 40 }),
      fc.constantFrom(0, 5, 40, 500),
      (c, share, maxBonusW) => {
        const H = c.hosts.length;
        const power = c.hosts.map((x) => MODELS[x.model]!);
        const cap = Float64Array.from(c.hosts, (x) => CAPS[x.cap]!);
        const pe = Float64Array.from(c.hosts, (x) => x.pe);
        const freeRam = Float64Array.from(c.hosts, (x) => x.ram);
        const alloc = Float64Array.from(c.hosts, (x, h) => x.alloc * cap[h]!);
        const nowW = Float64Array.from(c.hosts, (_x, h) =>
          powerW(power[h]!, Math.min(1, alloc[h]! / cap[h]!)),
        );
        const idx = new PowerIncreaseIndex(
          powerClasses(power, cap),
          power,
          pe,
          new Float64Array(H).fill(4096),
        );
        for (let h = 0; h < H; h++)
          idx.set(h, alloc[h]!, Math.max(0, cap[h]! - alloc[h]!), freeRam[h]!, nowW[h]!);
        for (const q of c.queries) {
          // A bonus in [0, maxBonusW] per host (coarse: ties between hosts happen).
          const score = (h: number): number => {
            if (pe[h]! < q.d || cap[h]! - alloc[h]! < q.d || freeRam[h]! < q.r) return NaN;
            const u = Math.min(1, (alloc[h]! + q.d) / cap[h]!);
            if ((alloc[h]! + q.d) / cap[h]! > 1 + 1e-9) return NaN;
            return powerW(power[h]!, u) - nowW[h]! - Math.round(share[h]! * 4) * (maxBonusW / 4);
          };
          const rejected = new Set(q.reject.map((h) => h % H));
          const got = idx.best(q.d, q.r, { evaluate: score, accept: (h) => !rejected.has(h) }, maxBonusW);
          const ranked = [...Array(H).keys()]
            .filter((h) => !Number.isNaN(score(h)))
            .sort((a, b) => score(a) - score(b) || a - b);
          const k = ranked.findIndex((h) => !rejected.has(h));
          assert.equal(got, k < 0 ? -1 : ranked[k]);
        }
      },
    ),
    { numRuns: 200 },
  );
});
