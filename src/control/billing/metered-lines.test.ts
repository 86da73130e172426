import assert from 'node:assert/strict';
import { test } from 'node:test';
import { meteredLines } from './metered-lines.ts';

const H = 3_600_000;
const at = (h: number) => new Date(Date.parse('2026-11-01T00:00:00Z') + h * H).toISOString();
const ms = (h: number) => Date.parse(at(h));
const tariffs = [
  { id: 't1', valid_from: at(0), valid_to: at(10), price: 1 },
  { id: 't2', valid_from: at(10), valid_to: null, price: 3 },
];
const spec = {
  resource: (r: { name: string }) => r.name,
  line: (r: { name: string }, t: { id: string }) => ({ name: r.name, tariff: t.id, hours: 0, amount: 0 }),
  add: (l: { hours: number; amount: number }, h: number, _r: unknown, t: { price: number }) => {
    l.hours += h;
    l.amount += h * t.price;
  },
};

test('meteredLines() clips spans to the period, splits them at tariff boundaries and sums per resource and tariff', () => {
  const spans = [
    // a: hours 2..12 inside the period [4, 20): 4..10 under t1 (6 h) and 10..12 under t2 (2 h, 6.00).
    { name: 'a', start_at: at(2), end_at: at(12) },
    // a again: 15..nowMs = 18, all t2 (3 h): t2's line is 5 h, 15.00.
    { name: 'a', start_at: at(15), end_at: null },
    // b: before the period: no line.
    { name: 'b', start_at: at(0), end_at: at(3) },
  ];
  assert.deepEqual(meteredLines(spans, { fromMs: ms(4), toMs: ms(20), nowMs: ms(18), tariffs }, spec), [
    { name: 'a', tariff: 't1', hours: 6, amount: 6 },
    { name: 'a', tariff: 't2', hours: 5, amount: 15 },
  ]);
});

test('meteredLines() gives nothing for an empty or inverted period', () => {
  const spans = [{ name: 'a', start_at: at(0), end_at: null }];
  assert.deepEqual(meteredLines(spans, { fromMs: ms(5), toMs: ms(5), nowMs: ms(9), tariffs }, spec), []);
  assert.deepEqual(meteredLines([], { fromMs: ms(0), toMs: ms(9), nowMs: ms(9), tariffs }, spec), []);
});
