import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalizeAddress, TICKET_PREFIX, TicketBook, TicketError } from './migration-tickets.ts';

const book = (now: { t: number }) => {
  let n = 0;
  return new TicketBook({ now: () => now.t, secret: () => `s${++n}`, ttlMs: 1000 });
};
const refused = (f: () => unknown, status: 401 | 403) =>
  assert.throws(f, (e: unknown) => e instanceof TicketError && e.status === status);

test('TicketBook: a ticket prepares one incoming migration of its guest, then finishes it once', () => {
  const now = { t: 0 };
  const b = book(now);
  const { ticket, expiresAt } = b.issue('g1');
  assert.equal(ticket, `${TICKET_PREFIX}s1`);
  assert.equal(expiresAt, 1000);
  refused(() => b.check(ticket, 'finish', 'g1', undefined), 403); // nothing prepared yet
  refused(() => b.startIncoming(ticket, 'g2', undefined), 403); // another guest
  b.startIncoming(ticket, 'g1', undefined);
  // A second, concurrent use is refused while the first runs.
  refused(() => b.startIncoming(ticket, 'g1', undefined), 401);
  refused(() => b.check(ticket, 'finish', 'g1', undefined), 403);
  // Prepared: the finish window is the migration's limit when that is longer than the lifetime.
  now.t = 500;
  b.endIncoming(ticket, true, 5000);
  now.t = 5400;
  assert.equal(b.check(ticket, 'finish', 'g1', undefined).state, 'prepared');
  refused(() => b.check(ticket, 'finish', 'g2', undefined), 403);
  b.void(ticket);
  refused(() => b.check(ticket, 'finish', 'g1', undefined), 401);
});

test('TicketBook: a failed incoming voids the ticket; an unused one expires after its lifetime', () => {
  const now = { t: 0 };
  const b = book(now);
  const t1 = b.issue('g1').ticket;
  b.startIncoming(t1, 'g1', undefined);
  b.endIncoming(t1, false, 60_000);
  refused(() => b.check(t1, 'finish', 'g1', undefined), 401);
  const t2 = b.issue('g1').ticket;
  now.t = 999;
  assert.equal(b.check(t2, 'incoming', 'g1', undefined).guestId, 'g1');
  now.t = 1000;
  refused(() => b.check(t2, 'incoming', 'g1', undefined), 401);
  assert.equal(b.size, 0);
});

test('TicketBook: a ticket bound to a source address accepts that address in any of its forms only', () => {
  const b = book({ t: 0 });
  const t = b.issue('g1', '10.0.0.5').ticket;
  for (const a of ['10.0.0.5', '::ffff:10.0.0.5']) assert.ok(b.check(t, 'incoming', 'g1', a));
  for (const a of ['10.0.0.6', undefined, '::1']) refused(() => b.check(t, 'incoming', 'g1', a), 403);
  assert.equal(normalizeAddress('[2001:DB8::1]'), '2001:db8::1');
  assert.equal(normalizeAddress('evil.example'), undefined);
});
