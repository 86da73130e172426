import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  overlappingTariff,
  roundCents,
  totalsByCurrency,
  windowsOverlap,
  type TariffWindow,
  unbilledNotice,
  uncoveredSpans,
} from './tariff-rules.ts';
import { parseBillingTime, parsePeriod } from './period.ts';

const w = (id: string, from: string, to?: string | null, item?: string): TariffWindow => ({
  id,
  name: id,
  validFrom: `${from}T00:00:00.000Z`,
  validTo: to ? `${to}T00:00:00.000Z` : (to ?? null),
  ...(item ? { item } : {}),
});

test('windows that share a second overlap; windows that only meet do not', () => {
  const jan = w('jan', '2026-01-01', '2026-02-01');
  assert.equal(windowsOverlap(jan, w('feb', '2026-02-01', '2026-03-01')), false, 'meets at midnight');
  assert.equal(windowsOverlap(jan, w('mid', '2026-01-15', '2026-02-15')), true);
  assert.equal(windowsOverlap(jan, w('open', '2025-06-01')), true, 'an open-ended window from before');
  assert.equal(windowsOverlap(w('a', '2026-03-01'), w('b', '2027-01-01')), true, 'two open-ended windows');
  assert.equal(windowsOverlap(jan, w('other', '2026-01-01', '2026-02-01', 'gpu')), false, 'another item');
});

test('overlappingTariff() names the earliest clashing tariff and ignores the tariff being edited', () => {
  const existing = [w('feb', '2026-02-01', '2026-03-01'), w('jan', '2026-01-01', '2026-02-01')];
  assert.equal(overlappingTariff(w('new', '2026-01-20', '2026-02-10'), existing)?.id, 'jan');
  assert.equal(overlappingTariff(w('jan', '2026-01-01', '2026-02-01'), existing), undefined);
  assert.equal(overlappingTariff(w('mar', '2026-03-01'), existing), undefined);
});

test('overlap is symmetric and agrees with sampling every day (property)', () => {
  const day = fc.integer({ min: 0, max: 60 });
  const win = fc
    .tuple(day, fc.option(fc.integer({ min: 1, max: 30 }), { nil: undefined }))
    .map(([a, len]) => ({ a, b: len === undefined ? Infinity : a + len }));
  const iso = (d: number) => new Date(Date.UTC(2026, 0, 1) + d * 86_400_000).toISOString();
  fc.assert(
    fc.property(win, win, (x, y) => {
      const tx = { id: 'x', name: 'x', validFrom: iso(x.a), validTo: x.b === Infinity ? null : iso(x.b) };
      const ty = { id: 'y', name: 'y', validFrom: iso(y.a), validTo: y.b === Infinity ? null : iso(y.b) };
      let shared = false;
      for (let d = 0; d < 100; d++) if (d >= x.a && d < x.b && d >= y.a && d < y.b) shared = true;
      assert.equal(windowsOverlap(tx, ty), shared);
      assert.equal(windowsOverlap(ty, tx), shared);
    }),
  );
});

test('totals are per currency and never add EUR to USD', () => {
  // EUR: 1.10 + 2.215 = 3.315, rounded once to 3.32; USD alone: 5
  assert.deepEqual(
    totalsByCurrency([
      { currency: 'USD', amount: 5 },
      { currency: 'EUR', amount: 1.1 },
      { currency: 'EUR', amount: 2.215 },
    ]),
    { EUR: 3.32, USD: 5 },
  );
  assert.deepEqual(totalsByCurrency([]), {});
  assert.equal(roundCents(0.1 + 0.2), 0.3);
  assert.equal(roundCents(1.005), 1.01);
});

test('the totals of a currency add up its lines to the cent (property)', () => {
  const line = fc.record({
    currency: fc.constantFrom('EUR', 'USD', 'CHF'),
    amount: fc.integer({ min: 0, max: 1_000_000 }).map((c) => c / 100),
  });
  fc.assert(
    fc.property(fc.array(line, { maxLength: 30 }), (lines) => {
      const totals = totalsByCurrency(lines);
      assert.deepEqual(Object.keys(totals), [...new Set(lines.map((l) => l.currency))].sort());
      for (const [c, t] of Object.entries(totals)) {
        const cents = lines
          .filter((l) => l.currency === c)
          .reduce((s, l) => s + Math.round(l.amount * 100), 0);
        assert.equal(Math.round(t * 100), cents);
      }
    }),
  );
});

test('billing dates accept YYYY-MM-DD (midnight UTC) and ISO times with an offset; others are named', () => {
  assert.equal(parseBillingTime('from', '2026-11-01'), '2026-11-01T00:00:00.000Z');
  assert.equal(parseBillingTime('from', '2026-11-01T01:00:00+01:00'), '2026-11-01T00:00:00.000Z');
  for (const bad of ['2026-02-30', '2026-11-01T00:00:00', 'yesterday', '1.5.2026'])
    assert.throws(
      () => parseBillingTime('to', bad),
      (e: Error & { code?: string }) =>
        e.code === 'BAD_REQUEST' && /to ".*" is not a date: use YYYY-MM-DD/.test(e.message),
    );
  assert.deepEqual(parsePeriod({ from: '2026-11-01', to: '2026-12-01' }), {
    from: '2026-11-01T00:00:00.000Z',
    to: '2026-12-01T00:00:00.000Z',
  });
  assert.throws(() => parsePeriod({ from: '2026-12-01', to: '2026-11-01' }), /must be before/);
});

test('uncoveredSpans() returns the parts of a period no window covers, in order', () => {
  const ms = (d: string) => Date.parse(`${d}T00:00:00.000Z`);
  const ws = [w('feb', '2026-02-01', '2026-03-01'), w('apr', '2026-04-01')];
  assert.deepEqual(uncoveredSpans(ms('2026-01-15'), ms('2026-05-01'), ws), [
    { a: ms('2026-01-15'), b: ms('2026-02-01') },
    { a: ms('2026-03-01'), b: ms('2026-04-01') },
  ]);
  assert.deepEqual(uncoveredSpans(ms('2026-02-03'), ms('2026-02-04'), ws), [], 'inside a window');
  assert.deepEqual(uncoveredSpans(ms('2026-01-01'), ms('2026-01-02'), []), [
    { a: ms('2026-01-01'), b: ms('2026-01-02') },
  ]);
});

test('the unbilled notice says no tariff covers the time and how to set one', () => {
  const none = unbilledNotice({ seconds: 7200, from: 'A', to: 'B', tariffs: 0 });
  assert.match(none, /^No tariff is set, so 7200 VM-second\(s\) \(2\.00 VM-hours\) of usage between A and B/);
  assert.match(none, /nubis tariff create NAME --valid-from YYYY-MM-DD .* POST \/v1\/tariffs/);
  assert.match(
    unbilledNotice({ seconds: 1, from: 'A', to: 'B', tariffs: 2 }),
    /^No tariff covers 1 VM-second/,
  );
});
