/**
 * The base of every control-plane service: the shared context (store, clock, ids, drivers) and the
 * helpers every write uses. A service reaches another through the facade's fields
 * (`this.cp.scheduler.claimHost(...)`), so the dependencies read where they are used.
 */
import type { ControlPlane } from './control-plane.ts';
import { nowIso, recordEvent, unique, type EventInput } from './context.ts';
import { canSeeAll, requireRole, type Principal, type Role } from './principal.ts';
import type { Db } from './store/open-store.ts';

/** A part of the control plane with one responsibility; constructed once by `ControlPlane`. */
export abstract class Service {
  constructor(protected readonly cp: ControlPlane) {}

  protected get ctx() {
    return this.cp.ctx;
  }
  protected get db(): Db {
    return this.cp.ctx.db;
  }
  /** The context's time as ISO text. */
  protected now(): string {
    return nowIso(this.cp.ctx);
  }
  /** Append to the audit trail, in the caller's transaction. */
  protected event(trx: Db, e: EventInput) {
    return recordEvent(this.cp.ctx, trx, e);
  }
  protected require(p: Principal, ...roles: Role[]): void {
    requireRole(p, ...roles);
  }
  protected canSeeAll(p: Principal): boolean {
    return canSeeAll(p);
  }
  /** Turn a unique-constraint violation into ALREADY_EXISTS. */
  protected unique<T>(f: () => Promise<T>, message: string): Promise<T> {
    return unique(f, message);
  }
}
