/**
 * One-time migration tickets: the destination agent issues one (to a caller holding its own
 * credential, i.e. the control plane) for one guest id, optionally bound to the source's address; the
 * source agent presents only the ticket, which grants `POST /v1/incoming` for that guest once, then
 * its commit or abort, and nothing else. So a source agent never learns a destination's credential
 * (the pattern of Kubernetes' bound service-account tokens: audience- and object-bound, short-lived).
 */
import { createHash, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';

/** Every ticket starts with this, so the agent tells a ticket from its credential without a lookup. */
export const TICKET_PREFIX = 'nubis-mt-';

/** Default lifetime of an unused ticket (10 minutes). */
export const TICKET_TTL_MS = 10 * 60_000;

/** Outstanding tickets an agent keeps at most (only a credential holder can issue them). */
const MAX_TICKETS = 1000;

/** What a ticket allows, after {@link TicketBook.check}. */
export interface Ticket {
  guestId: string;
  /** The source's IP address the ticket is bound to (none: any). */
  sourceAddress?: string;
  expiresAt: number;
  /** issued: /v1/incoming may be called once; preparing: it runs; prepared: commit or abort may be called. */
  state: 'issued' | 'preparing' | 'prepared';
}

/** Options of a {@link TicketBook}; time and randomness are injected for tests. */
export interface TicketBookOptions {
  now?: () => number;
  secret?: () => string;
  ttlMs?: number;
}

const digest = (t: string) => createHash('sha256').update(t).digest('base64url');

/** An IP literal in one form (IPv4-mapped IPv6 as IPv4, brackets and case dropped); else undefined. */
export function normalizeAddress(a: string | undefined): string | undefined {
  if (!a) return undefined;
  const x = a.replace(/^\[|\]$/g, '').toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(x);
  if (mapped) return mapped[1];
  return isIP(x) ? x : undefined;
}

/** Why a ticket was refused (for the 401/403 message; never contains the ticket). */
export class TicketError extends Error {
  constructor(
    readonly status: 401 | 403,
    message: string,
  ) {
    super(message);
  }
}

/** The destination agent's outstanding tickets, kept in memory by their SHA-256 digest only. */
export class TicketBook {
  private readonly tickets = new Map<string, Ticket>();
  private readonly now: () => number;
  private readonly secret: () => string;
  readonly ttlMs: number;

  constructor(o: TicketBookOptions = {}) {
    this.now = o.now ?? Date.now;
    this.secret = o.secret ?? (() => randomBytes(32).toString('base64url'));
    this.ttlMs = o.ttlMs ?? TICKET_TTL_MS;
  }

  /** Issue a ticket for guest `guestId` (already checked); returned once, only its digest is kept. */
  issue(guestId: string, sourceAddress?: string): { ticket: string; expiresAt: number } {
    this.prune();
    if (this.tickets.size >= MAX_TICKETS)
      throw new TicketError(403, `Too many outstanding migration tickets (${MAX_TICKETS}); retry later`);
    const ticket = TICKET_PREFIX + this.secret();
    const expiresAt = this.now() + this.ttlMs;
    this.tickets.set(digest(ticket), {
      guestId,
      ...(sourceAddress ? { sourceAddress } : {}),
      expiresAt,
      state: 'issued',
    });
    return { ticket, expiresAt };
  }

  /**
   * The ticket `given`, if valid for `step` on guest `guestId` from `remoteAddress`.
   * @throws TicketError 401 unknown, used or expired ticket; 403 another guest, step or address
   */
  check(
    given: string,
    step: 'incoming' | 'finish',
    guestId: string | undefined,
    remoteAddress: string | undefined,
  ): Ticket {
    const key = digest(given);
    const t = this.tickets.get(key);
    if (!t) throw new TicketError(401, 'Unknown, used or expired migration ticket');
    if (this.now() >= t.expiresAt) {
      this.tickets.delete(key);
      throw new TicketError(401, 'Unknown, used or expired migration ticket');
    }
    if (t.sourceAddress && normalizeAddress(remoteAddress) !== t.sourceAddress)
      throw new TicketError(403, 'This migration ticket is bound to another source address');
    if (guestId !== undefined && guestId !== t.guestId)
      throw new TicketError(403, `This migration ticket is for guest "${t.guestId}" only`);
    if (step === 'incoming' && t.state !== 'issued')
      throw new TicketError(401, 'Unknown, used or expired migration ticket');
    if (step === 'finish' && t.state !== 'prepared')
      throw new TicketError(403, 'This migration ticket has not prepared an incoming migration yet');
    return t;
  }

  /**
   * Start the `incoming` step for guest `guestId` (the one in the request body): checked and marked
   * in one go, so two concurrent requests cannot both use the ticket.
   * @throws TicketError as {@link TicketBook.check}
   */
  startIncoming(given: string, guestId: string, remoteAddress: string | undefined): void {
    this.check(given, 'incoming', guestId, remoteAddress).state = 'preparing';
  }

  /**
   * End the `incoming` step: on success the ticket may finish (commit or abort) within
   * `finishWithinMs` (the migration's own time limit) or its lifetime, whichever is longer; on
   * failure it is void.
   */
  endIncoming(given: string, ok: boolean, finishWithinMs: number): void {
    const key = digest(given);
    const t = this.tickets.get(key);
    if (!t) return;
    if (!ok) {
      this.tickets.delete(key);
      return;
    }
    t.state = 'prepared';
    t.expiresAt = this.now() + Math.max(this.ttlMs, finishWithinMs);
  }

  /** Void a ticket (after its commit or abort). */
  void(given: string): void {
    this.tickets.delete(digest(given));
  }

  /** Outstanding tickets (expired ones dropped first). */
  get size(): number {
    this.prune();
    return this.tickets.size;
  }

  private prune(): void {
    const now = this.now();
    for (const [k, t] of this.tickets) if (now >= t.expiresAt) this.tickets.delete(k);
  }
}
