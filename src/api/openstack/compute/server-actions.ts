/**
 * `POST /v2.1/servers/{id}/action`: os-stop, os-start, reboot, pause, unpause, suspend, resume, lock,
 * unlock, os-migrateLive and os-resetState (admin), each through nubis's own action or migration (202; a wrong state 409)
 * (https://docs.openstack.org/api-ref/compute/#servers-run-an-action-servers-action).
 */
import type { FastifyInstance } from 'fastify';
import { ControlError } from '../../../control/errors.ts';
import type { VmRow } from '../../../control/compute/vm-reads.ts';
import type { Principal } from '../../../control/principal.ts';
import type { VmAction } from '../../../control/vm-states.ts';
import { OsError, type OsDeps } from '../frame.ts';
import {
  backgroundLog,
  conflict,
  findServer,
  isAdmin,
  refuseIfLocked,
  serverCaller,
  settleWithin,
} from './server-common.ts';

/** How long an action's answer waits for nubis's work (refusals found in that time are answered). */
const SETTLE_MS = 10_000;

type Obj = Record<string, unknown>;

/** Nova's actions over nubis's: the nubis action and the states (and pause flag) it starts from. */
const ACTIONS: Record<string, { action: VmAction; from: string[]; paused?: boolean; setPaused?: boolean }> = {
  'os-stop': { action: 'stop', from: ['running', 'suspended', 'error'] },
  'os-start': { action: 'start', from: ['stopped'] },
  reboot: { action: 'reboot', from: ['running'] },
  pause: { action: 'suspend', from: ['running'], setPaused: true },
  suspend: { action: 'suspend', from: ['running'], setPaused: false },
  unpause: { action: 'resume', from: ['suspended'], paused: true },
  resume: { action: 'resume', from: ['suspended'], paused: false },
};

/** Register `POST /v2.1/servers/{id}/action`. */
export function registerServerActions(s: FastifyInstance, deps: OsDeps): void {
  const { cp } = deps;
  const log = backgroundLog(deps);
  s.post('/v2.1/servers/:id/action', async (req, reply) => {
    const { p } = await serverCaller(deps, req);
    const id = (req.params as { id: string }).id;
    const body = req.body as Obj | undefined;
    const keys = body && typeof body === 'object' ? Object.keys(body) : [];
    if (keys.length !== 1) throw new OsError(400, 'The action body needs exactly one action');
    const name = keys[0]!;
    const arg = body![name];
    if (name === 'os-migrateLive') {
      await migrateLive(deps, p, id, arg, req.novaMinor ?? 1, log);
      return reply.code(202).send();
    }
    if (name === 'os-resetState') {
      await resetState(deps, p, id, arg);
      return reply.code(202).send();
    }
    const v = await findServer(cp, p, id, 'vm:action');
    if (name === 'lock' || name === 'unlock') {
      await cp.vmAttributes.edit(p, id, { locked: name === 'lock' });
      return reply.code(202).send();
    }
    // nubis deletes at once (no SOFT_DELETED servers): a live server is never in the state restore needs.
    if (name === 'restore') throw conflict(v, name);
    const a = ACTIONS[name];
    if (!a) throw new OsError(400, `There is no such action: ${name}`);
    refuseIfLocked(p, v);
    if (name === 'reboot') {
      const type = (arg as Obj | null)?.type;
      if (type !== 'SOFT' && type !== 'HARD') throw new OsError(400, 'reboot needs "type": SOFT or HARD');
    }
    if (!a.from.includes(v.state) || (a.paused !== undefined && (Number(v.paused) === 1) !== a.paused))
      throw conflict(v, name);
    if (a.setPaused !== undefined) await cp.vmAttributes.edit(p, id, { paused: a.setPaused });
    const hard = name === 'reboot' && (arg as Obj).type === 'HARD';
    const work = cp.vmActions.vmAction(p, id, a.action, { hard }).catch((e: unknown) => {
      if (e instanceof ControlError && e.code === 'INVALID_STATE') throw conflict(v, name);
      throw e;
    });
    await settleWithin(work, SETTLE_MS, log);
    return reply.code(202).send();
  });
}

/**
 * `os-migrateLive` (admin): 2.1–2.24 `{host, block_migration, disk_over_commit}`, 2.25 `block_migration`
 * may be "auto" and `disk_over_commit` is gone, 2.30 adds `force`. `host` null: nubis's scheduler picks.
 * An unknown host is 400 and the server stays ACTIVE. A PAUSED server migrates and stays PAUSED.
 */
async function migrateLive(
  deps: OsDeps,
  p: Principal,
  id: string,
  arg: unknown,
  minor: number,
  log: (e: unknown) => void,
): Promise<void> {
  const { cp } = deps;
  const v: VmRow = await findServer(cp, p, id);
  if (!isAdmin(p))
    throw new OsError(
      403,
      'Policy does not allow os_compute_api:os-migrate-server:migrate_live to be performed.',
    );
  if (!arg || typeof arg !== 'object' || Array.isArray(arg))
    throw new OsError(400, 'os-migrateLive needs an object');
  const o = arg as Obj;
  const allowed = [
    'host',
    'block_migration',
    ...(minor < 25 ? ['disk_over_commit'] : []),
    ...(minor >= 30 ? ['force'] : []),
  ];
  for (const k of Object.keys(o))
    if (!allowed.includes(k))
      throw new OsError(400, `Additional properties are not allowed ('${k}' was unexpected)`);
  const boolish = (x: unknown) =>
    typeof x === 'boolean' || (typeof x === 'string' && /^(true|false|0|1|yes|no|on|off)$/i.test(x));
  if (
    !('block_migration' in o) ||
    !(boolish(o.block_migration) || (minor >= 25 && o.block_migration === 'auto'))
  )
    throw new OsError(400, 'Invalid input for field/attribute block_migration');
  if (minor < 25 && (!('disk_over_commit' in o) || !boolish(o.disk_over_commit)))
    throw new OsError(400, 'Invalid input for field/attribute disk_over_commit');
  if (o.force !== undefined && typeof o.force !== 'boolean')
    throw new OsError(400, 'Invalid input for field/attribute force');
  if (o.host !== undefined && o.host !== null && typeof o.host !== 'string')
    throw new OsError(400, 'Invalid input for field/attribute host');
  const host = (o.host as string | null | undefined) ?? undefined;
  if (host) {
    const h = await cp.db
      .selectFrom('hosts')
      .select(['id'])
      .where((eb) => eb.or([eb('name', '=', host), eb('id', '=', host)]))
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    if (!h) throw new OsError(400, `Compute host ${host} could not be found.`);
    if (h.id === v.host_id)
      throw new OsError(400, `The supplied target host ${host} is the server's own host`);
  }
  // Nova live-migrates ACTIVE and PAUSED servers (nubis: running, or suspended with its pause flag).
  if (v.state !== 'running' && !(v.state === 'suspended' && Number(v.paused) === 1))
    throw conflict(v, 'os-migrateLive');
  const work = cp.migrations.migrateVm(p, id, { toHost: host }).catch((e: unknown) => {
    if (e instanceof ControlError && e.code === 'INVALID_STATE') throw conflict(v, 'os-migrateLive');
    if (
      e instanceof ControlError &&
      (e.code === 'NOT_FOUND' || e.code === 'BAD_REQUEST' || e.code === 'NO_HOST_FITS')
    )
      throw new OsError(400, e.message);
    throw e;
  });
  await settleWithin(work, SETTLE_MS, log);
}

/** `os-resetState` (admin): `{"state": "active"|"error"}` sets the recorded state, not the guest's. */
async function resetState(deps: OsDeps, p: Principal, id: string, arg: unknown): Promise<void> {
  await findServer(deps.cp, p, id);
  if (!isAdmin(p))
    throw new OsError(
      403,
      'Policy does not allow os_compute_api:os-admin-actions:reset_state to be performed.',
    );
  const state = (arg as Obj | null)?.state;
  if (state !== 'active' && state !== 'error')
    throw new OsError(400, 'Invalid input for field/attribute state: "active" or "error"');
  await deps.cp.vmAttributes.resetState(p, id, state === 'active' ? 'running' : 'error');
}
