/**
 * A VM's serial console: its log (the tail, at most 1 MiB) for everyone of its tenant, and the
 * interactive console for those who may act on it, opened with a one-time ticket (Nova's console
 * tokens): browsers cannot put a bearer token on a WebSocket, so an authenticated POST hands out a
 * ticket that the WebSocket presents once, within 30 s. Tickets live in this process's memory only.
 *
 * Uses: `cp.vmReads`, `cp.drivers`.
 */
import { createHash } from 'node:crypto';
import {
  CONSOLE_LOG_MAX_BYTES,
  consoleTailBytes,
  type ConsoleLog,
  type ConsoleStream,
} from '../../core/console.ts';
import { DriverError } from '../../core/hypervisor.ts';
import { authorizeTenantObject, type Operation } from '../authz.ts';
import { isoIn } from '../context.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { appendSecurityEvent } from '../security/security-log.ts';
import { Service } from '../service.ts';
import type { VmRow } from './vm-reads.ts';

/** How long a console ticket may wait to be used, s. */
export const CONSOLE_TICKET_TTL_S = 30;

/** A console ticket as handed out (the ticket itself is shown once). */
export interface ConsoleTicket {
  ticket: string;
  vmId: string;
  /** The WebSocket path to open with `?ticket=`. */
  path: string;
  expiresAt: string;
}

interface PendingTicket {
  principal: Principal;
  vmId: string;
  expiresS: number;
}

const hash = (t: string) => createHash('sha256').update(t).digest('hex');

/** A VM's serial console: its log, console tickets, and opening the console with one. */
export class VmConsole extends Service {
  /** Tickets not used yet, by the hash of the ticket (the ticket itself is not kept). */
  private readonly tickets = new Map<string, PendingTicket>();

  /** The VM and its host's driver; a VM without a host, or whose host is out of reach, has no console. */
  private async guest(p: Principal, ref: string, op: Operation) {
    const v = await this.cp.vmReads.vmRow(p, ref, op);
    const host = v.host_id
      ? await this.db.selectFrom('hosts').selectAll().where('id', '=', v.host_id).executeTakeFirst()
      : undefined;
    if (!host)
      throw new ControlError(
        'INVALID_STATE',
        `VM "${v.name}" is ${v.state} and runs on no host: it has no console`,
      );
    return { v, d: this.cp.drivers.driverFor(host) };
  }

  /** Driver errors as control errors: an unknown guest is a VM whose host lost it. */
  private driverError(e: unknown, v: VmRow): never {
    if (e instanceof DriverError) {
      const code = e.code === 'NOT_FOUND' || e.code === 'INVALID_STATE' ? 'INVALID_STATE' : 'BACKEND';
      throw new ControlError(
        code,
        `The console of VM "${v.name}" is not available: ${e.message}`,
        undefined,
        {
          cause: e,
        },
      );
    }
    throw e;
  }

  /**
   * The end of the VM's console log: `tailBytes` from its end (1..1 MiB; default 64 KiB).
   * Everyone of the VM's tenant (readers too) and admins; operators do not read other tenants' logs.
   */
  async consoleLog(p: Principal, ref: string, tailBytes?: number): Promise<ConsoleLog & { vmId: string }> {
    if (
      tailBytes !== undefined &&
      !(Number.isInteger(tailBytes) && tailBytes >= 1 && tailBytes <= CONSOLE_LOG_MAX_BYTES)
    )
      throw new ControlError(
        'BAD_REQUEST',
        `tail must be a whole number of bytes in 1..${CONSOLE_LOG_MAX_BYTES}, got ${tailBytes}`,
      );
    const { v, d } = await this.guest(p, ref, 'vm:console-log');
    const log = await d
      .consoleLog(v.id, { tailBytes: consoleTailBytes({ tailBytes }) })
      .catch((e) => this.driverError(e, v));
    return { vmId: v.id, ...log };
  }

  /** A one-time ticket that opens the VM's interactive console within 30 s (members and admins). */
  async createTicket(p: Principal, ref: string): Promise<ConsoleTicket> {
    const { v } = await this.guest(p, ref, 'vm:console');
    if (v.state !== 'running' && v.state !== 'suspended')
      throw new ControlError('INVALID_STATE', `VM "${v.name}" is ${v.state}: start it to use its console`);
    const now = this.ctx.clock.now();
    for (const [k, t] of this.tickets) if (t.expiresS <= now) this.tickets.delete(k);
    const ticket = `nubisc_${this.ctx.ids.secret()}`;
    this.tickets.set(hash(ticket), { principal: p, vmId: v.id, expiresS: now + CONSOLE_TICKET_TTL_S });
    await this.db
      .transaction()
      .execute((trx) =>
        this.event(trx, { tenantId: v.tenant_id, vmId: v.id, actor: p.userName, kind: 'vm.console-ticket' }),
      );
    return {
      ticket,
      vmId: v.id,
      path: `/v1/vms/${v.id}/console/ws`,
      expiresAt: isoIn(this.ctx, CONSOLE_TICKET_TTL_S),
    };
  }

  /**
   * Open the console of VM `ref` with a ticket (used up, valid or not): the ticket must be for that
   * VM, unexpired, and its holder still allowed to act on the VM. A bad ticket is recorded in the
   * security log as `login.failed` (with `source`, the caller's address).
   * @throws ControlError UNAUTHENTICATED for a missing, used, expired or other VM's ticket
   */
  async open(ticket: string, ref: string, source?: string): Promise<ConsoleStream> {
    const k = hash(ticket);
    const t = this.tickets.get(k);
    this.tickets.delete(k);
    if (!t || t.expiresS <= this.ctx.clock.now() || ref !== t.vmId) {
      // In the security log like a failed login (the ticket itself is never recorded).
      await appendSecurityEvent(this.ctx, {
        kind: 'login.failed',
        principal: t?.principal.userName,
        tenantId: t?.principal.tenantId,
        source,
        object: `GET /v1/vms/${ref.slice(0, 200)}/console/ws`,
        detail: {
          reason: !t
            ? 'unknown console ticket'
            : ref !== t.vmId
              ? 'console ticket for another VM'
              : 'expired console ticket',
        },
      });
      throw new ControlError(
        'UNAUTHENTICATED',
        `The console ticket is not valid (unknown, used, expired, or for another VM): ask for a new one with POST /v1/vms/:id/console/tickets`,
      );
    }
    // Checked again: the VM may have been deleted or the role changed since the ticket.
    const { v, d } = await this.guest(t.principal, t.vmId, 'vm:console');
    authorizeTenantObject(t.principal, 'vm:console', v.tenant_id, `No VM "${ref}"`);
    return d.openConsole(v.id).catch((e) => this.driverError(e, v));
  }
}
