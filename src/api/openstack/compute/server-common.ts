/** What the server routes share: the caller, the view context, finding one server, waiting on nubis's work. */
import type { FastifyRequest } from 'fastify';
import type { ControlPlane } from '../../../control/control-plane.ts';
import type { VmRow } from '../../../control/compute/vm-reads.ts';
import { ControlError } from '../../../control/errors.ts';
import type { Principal } from '../../../control/principal.ts';
import { osBase, OsError, osPrincipal, type OsDeps } from '../frame.ts';
import { loadServers, serverDetail, type ServerBundle, type ServerViewCtx } from './server-view.ts';

/** Nova's admin is Keystone's `admin` role (nubis's admin). */
export const isAdmin = (p: Principal) => p.role === 'admin';

/** The caller and how it sees servers. */
export async function serverCaller(
  deps: OsDeps,
  req: FastifyRequest,
): Promise<{ p: Principal; view: ServerViewCtx }> {
  const p = await osPrincipal(deps.cp, req);
  return { p, view: { base: osBase(req, deps.opts), minor: req.novaMinor ?? 1, admin: isAdmin(p) } };
}

/** The server `id` the caller reaches (by id only: a name is 404, as in Nova), for `op`. */
export async function findServer(
  cp: ControlPlane,
  p: Principal,
  id: string,
  op: 'vm:read' | 'vm:action' | 'vm:migrate' = 'vm:read',
): Promise<VmRow> {
  const notFound = new OsError(404, `Instance ${id} could not be found.`);
  if (!id || id.length > 200) throw notFound;
  let v: VmRow;
  try {
    v = await cp.vmReads.vmRow(p, id, op);
  } catch (e) {
    if (e instanceof ControlError && (e.code === 'NOT_FOUND' || e.code === 'ALREADY_EXISTS')) throw notFound;
    throw e;
  }
  if (v.id !== id) throw notFound;
  return v;
}

/** One server with what its view needs. */
export async function serverBundle(cp: ControlPlane, v: VmRow): Promise<ServerBundle> {
  return (await loadServers(cp, [v]))[0]!;
}

/** `{"server": detail}` of one server, re-read. */
export async function showServer(cp: ControlPlane, p: Principal, view: ServerViewCtx, id: string) {
  return { server: serverDetail(await serverBundle(cp, await findServer(cp, p, id)), view) };
}

/** A locked server refuses actions by its non-admin owner (409, Nova's `InstanceIsLocked`). */
export function refuseIfLocked(p: Principal, v: VmRow): void {
  if (Number(v.locked) === 1 && !isAdmin(p)) throw new OsError(409, `Instance ${v.id} is locked`);
}

/** A state refusal of nubis's (INVALID_STATE) as Nova words it: 409 `conflictingRequest`. */
export function conflict(v: VmRow, action: string): OsError {
  return new OsError(
    409,
    `Cannot '${action}' instance ${v.id} while it is in vm_state ${v.state === 'running' ? 'active' : v.state}`,
  );
}

/**
 * Wait for nubis's work at most `ms`: its outcome if it settles in time (its refusals become the
 * answer), else leave it running (Nova's actions are asynchronous: the client polls the server).
 */
export async function settleWithin<T>(
  work: Promise<T>,
  ms: number,
  log: (e: unknown) => void,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), ms)));
  try {
    const r = await Promise.race([work, late]);
    if (r === 'late') work.catch(log);
  } finally {
    clearTimeout(timer);
  }
}

/** Log an error of work that continues after its answer (it is recorded on the VM and its operation too). */
export function backgroundLog(deps: OsDeps) {
  return (e: unknown) =>
    (deps.opts.log ?? ((l) => process.stderr.write(JSON.stringify(l) + '\n')))({
      level: 'error',
      time: new Date().toISOString(),
      msg: 'OpenStack server work failed after its answer',
      error: (e as Error).message,
    });
}
