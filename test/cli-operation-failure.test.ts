/**
 * A CLI command that starts an operation exits non-zero when the operation fails, and says why (the
 * operation's error), with and without --json. Against the in-process API over real HTTP, on
 * simulated hosts: the destination of a migration is switched off behind the control plane's back.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../src/api/server.ts';
import { ControlPlane, seedDemo } from '../src/control/control-plane.ts';
import { openStore } from '../src/control/store/open-store.ts';
import { createHostDrivers } from '../src/drivers/host-drivers.ts';
import { createImageFiles } from '../src/drivers/image-files.ts';
import { SimHypervisorDriver } from '../src/drivers/sim/sim-driver.ts';
import { SimClock } from '../src/runtime/clock.ts';

const root = new URL('..', import.meta.url).pathname;
const bin = join(root, 'bin/nubis.js');
const home = mkdtempSync(join(tmpdir(), 'nubis-cli-opfail-'));
let app: FastifyInstance;
let url = '';
let sim: SimHypervisorDriver;

before(async () => {
  const db = await openStore(':memory:');
  const clock = new SimClock(Date.parse('2026-11-02T10:00:00Z') / 1000);
  sim = new SimHypervisorDriver(clock);
  const cp = new ControlPlane({
    db,
    clock,
    hostDrivers: createHostDrivers({ sim }),
    imageFiles: createImageFiles(mkdtempSync(join(tmpdir(), 'nubis-cli-opfail-images-'))),
  });
  await cp.bootstrap('admin-tok');
  await seedDemo(cp, (await cp.authenticate('admin-tok'))!, 3);
  app = buildApi(cp, { simulations: { dir: mkdtempSync(join(tmpdir(), 'nubis-sims-')), bin } });
  url = await app.listen({ host: '127.0.0.1', port: 0 });
});
after(() => app.close());

/** Runs `nubis ARGS` as the admin. */
function nubis(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const { NUBIS_URL: _u, NUBIS_TOKEN: _t, ...rest } = process.env;
  const env = { ...rest, NUBIS_CREDENTIALS: join(home, 'none'), NUBIS_URL: url, NUBIS_TOKEN: 'admin-tok' };
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env, cwd: root }, (e, out, err) =>
      resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out, err }),
    );
  });
}

test('nubis vm migrate exits 1 with the operation error when the migration fails, 0 when it succeeds', async () => {
  const created = await nubis(
    'vm',
    'create',
    '--name',
    'db',
    '--flavor',
    'm1.tiny',
    '--image',
    'tiny',
    '--json',
  );
  assert.equal(created.code, 0, created.err);
  const vm = JSON.parse((await nubis('vm', 'show', 'db', '--json')).out) as { hostName: string; id: string };
  const hosts = JSON.parse((await nubis('host', 'list', '--json')).out) as { id: string; name: string }[];
  const [to, other] = hosts.filter((h) => h.name !== vm.hostName);

  // The destination is off (the control plane still believes it up): the driver refuses the move.
  sim.setPower(to!.id, false);
  const failed = await nubis('vm', 'migrate', 'db', '--to', to!.name);
  assert.equal(failed.code, 1, failed.out + failed.err);
  assert.match(failed.out, /^db: migrate failed — .*switched off/);
  assert.match(failed.err, /^nubis: error: migrate of db failed: .*switched off \(operation [\w-]+\)\n$/);
  const asJson = await nubis('vm', 'migrate', 'db', '--to', to!.name, '--json');
  assert.equal(asJson.code, 1);
  const op = JSON.parse(asJson.out) as { status: string; error: string };
  assert.equal(op.status, 'failed');
  assert.match(op.error, /switched off/);
  // The VM still runs where it was.
  assert.equal(JSON.parse((await nubis('vm', 'show', 'db', '--json')).out).hostName, vm.hostName);
  sim.setPower(to!.id, true);

  const moved = await nubis('vm', 'migrate', 'db', '--to', other!.name);
  assert.equal(moved.code, 0, moved.err);
  assert.match(moved.out, /^db: migrate succeeded/);
  assert.equal(moved.err, '');
});

test('a VM action whose operation fails exits 1 too (the shared wait helper, not only migrate)', async () => {
  const created = await nubis(
    'vm',
    'create',
    '--name',
    'web',
    '--flavor',
    'm1.tiny',
    '--image',
    'tiny',
    '--json',
  );
  assert.equal(created.code, 0, created.err);
  const vm = JSON.parse((await nubis('vm', 'show', 'web', '--json')).out) as { hostId: string };
  // Its host is switched off under it: a reboot cannot reach the guest.
  sim.setPower(vm.hostId, false);
  const r = await nubis('vm', 'reboot', 'web');
  assert.equal(r.code, 1, r.out + r.err);
  assert.match(r.err, /^nubis: error: reboot of web failed: /);
  sim.setPower(vm.hostId, true);
});

test('nubis plan apply exits 1 naming the failed action when a move of the plan fails', async () => {
  const created = await nubis(
    'vm',
    'create',
    '--name',
    'batch',
    '--flavor',
    'm1.tiny',
    '--image',
    'tiny',
    '--json',
  );
  assert.equal(created.code, 0, created.err);
  const vm = JSON.parse((await nubis('vm', 'show', 'batch', '--json')).out) as { hostName: string };
  const hosts = JSON.parse((await nubis('host', 'list', '--json')).out) as { id: string; name: string }[];
  const to = hosts.find((h) => h.name !== vm.hostName)!;
  const audit = await nubis('plan', 'audit', '--move', `batch=${to.name}`, '--json');
  assert.equal(audit.code, 0, audit.err);
  const plan = JSON.parse(audit.out) as { id: string };
  sim.setPower(to.id, false);
  const r = await nubis('plan', 'apply', plan.id);
  assert.equal(r.code, 1, r.out + r.err);
  assert.match(r.out, /failed/);
  assert.match(r.err, new RegExp(`^nubis: error: plan ${plan.id} failed at action \\d+: .*switched off`));
  sim.setPower(to.id, true);
});
