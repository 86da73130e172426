/**
 * Token use from a new address: the first request of a token from an address is a security event
 * (as GitHub mails "a new sign-in" for a new device). Known pairs are kept in `token_addresses` and
 * cached in memory, so the common case costs no query.
 */
import type { ControlContext } from '../context.ts';
import { nowIso } from '../context.ts';
import type { Principal } from '../principal.ts';
import { recordSecurityEvent } from './security-log.ts';

/** The most (token, address) pairs the cache holds before it starts over (the table stays the truth). */
const MAX_CACHED = 10_000;

/** Notes each token's addresses; one per control plane. */
export class TokenUseLog {
  readonly #seen = new Set<string>();

  constructor(private readonly ctx: Pick<ControlContext, 'db' | 'clock'>) {}

  /** Record `p`'s token as used from `source`; a security event when that address is new for it. */
  async note(p: Principal, source: string): Promise<void> {
    const key = `${p.tokenId}\n${source}`;
    if (this.#seen.has(key)) return;
    await this.ctx.db.transaction().execute(async (trx) => {
      const r = await trx
        .insertInto('token_addresses')
        .values({ token_id: p.tokenId, address: source, first_seen_at: nowIso(this.ctx) })
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst();
      if (Number(r.numInsertedOrUpdatedRows ?? 0n) > 0)
        await recordSecurityEvent(this.ctx, trx, {
          kind: 'token.new-address',
          principal: p.userName,
          tenantId: p.tenantId,
          source,
          detail: { tokenId: p.tokenId },
        });
    });
    if (this.#seen.size >= MAX_CACHED) this.#seen.clear();
    this.#seen.add(key);
  }
}
