/**
 * Helpers of the crash-recovery tests: start `nubis serve` as a child process on a data folder and a
 * database, and check the invariants a restart must restore (nothing half done, no orphan claim,
 * every running VM billed once, the simulated guests match the records).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { SimHypervisorDriver } from '../../src/drivers/sim/sim-driver.ts';
import { SimClock } from '../../src/runtime/clock.ts';
import { join } from 'node:path';
import { openStore, type Db } from '../../src/control/store/open-store.ts';

const root = new URL('../..', import.meta.url).pathname;

export interface Serve {
  url: string;
  proc: ChildProcess;
  out: () => string;
}

/** Start `nubis serve` (admin token "admin-tok", 4 simulated hosts on first start); resolves when it listens. */
export function startServe(
  data: string,
  db: string,
  extra: string[] = [],
  env: Record<string, string> = {},
): Promise<Serve> {
  const proc = spawn(
    process.execPath,
    [
      join(root, 'bin/nubis.js'),
      'serve',
      '--port',
      '0',
      '--data',
      data,
      '--db',
      db,
      '--demo-hosts',
      '4',
      '--sim-load-interval-s',
      '0',
      ...extra,
    ],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NUBIS_BOOTSTRAP_TOKEN: 'admin-tok', ...env },
    },
  );
  let out = '';
  return new Promise((resolve, reject) => {
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /control plane on (http:\/\/[^ ]+)/.exec(out);
      if (m) resolve({ url: m[1]!, proc, out: () => out });
    });
    proc.stderr!.on('data', (d) => {
      out += d;
    });
    proc.on('exit', (c, sig) => reject(new Error(`serve exited (${c ?? sig}): ${out}`)));
  });
}

/** SIGKILL a serve process and wait until it is gone. */
export async function killServe(s: Serve): Promise<void> {
  if (s.proc.exitCode !== null || s.proc.signalCode !== null) return;
  const gone = new Promise((r) => s.proc.once('exit', r));
  s.proc.kill('SIGKILL');
  await gone;
}

/** A JSON client of the API as the admin; never throws (a dead server answers status 0). */
export function client(url: string, token = 'admin-tok') {
  return async (method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> => {
    try {
      const r = await fetch(url + path, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await r.text();
      return { status: r.status, body: text ? JSON.parse(text) : undefined };
    } catch (e) {
      return { status: 0, body: { message: (e as Error).message } };
    }
  };
}

/** A parsed JSON answer, read loosely by tests. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

const TRANSITIONAL = ['building', 'migrating', 'resizing'];

/**
 * Check what a restart must have repaired, from the records (and from the simulated hosts' state
 * file when there is one). `context` names the round in failure messages.
 */
export async function assertRecovered(dbUrl: string, apiUrl: string, data: string, context: string) {
  const db = await openStore(dbUrl);
  try {
    const live = await assertRecoveredDb(db, context);
    await assertGuestsMatch(live, apiUrl, data, context);
  } finally {
    await db.destroy();
  }
}

/** The records' part of the check (no operation running, no VM half done, claims and usage right); returns the live VMs. */
export async function assertRecoveredDb(db: Db, context: string) {
  {
    const vms = await db
      .selectFrom('vms')
      .innerJoin('flavors', 'flavors.id', 'vms.flavor_id')
      .select([
        'vms.id',
        'vms.name',
        'vms.state',
        'vms.host_id',
        'vms.tenant_id',
        'vms.flavor_id',
        'vms.deleted_at',
        'flavors.vcpus',
        'flavors.memory_mib',
        'flavors.disk_gib',
      ])
      .execute();
    const live = vms.filter((v) => v.deleted_at === null);
    for (const v of live)
      assert.ok(!TRANSITIONAL.includes(v.state), `${context}: VM ${v.name} is left ${v.state}`);
    for (const v of vms.filter((x) => x.deleted_at !== null))
      assert.equal(v.state, 'deleted', `${context}: VM ${v.name} has deleted_at but is ${v.state}`);

    const running = await db
      .selectFrom('operations')
      .select(['id', 'kind'])
      .where('status', '=', 'running')
      .execute();
    assert.deepEqual(running, [], `${context}: operations left running`);

    // No orphan claim: each host's counters are the sum of the flavors of the live VMs on it.
    const hosts = await db.selectFrom('hosts').selectAll().execute();
    for (const h of hosts) {
      const on = live.filter((v) => v.host_id === h.id);
      assert.deepEqual(
        {
          vcpus: Number(h.used_vcpus),
          memoryMiB: Number(h.used_memory_mib),
          diskGiB: Number(h.used_disk_gib),
          vms: Number(h.vm_count),
        },
        {
          vcpus: on.reduce((s, v) => s + v.vcpus, 0),
          memoryMiB: on.reduce((s, v) => s + v.memory_mib, 0),
          diskGiB: on.reduce((s, v) => s + v.disk_gib, 0),
          vms: on.length,
        },
        `${context}: host ${h.name}'s counters`,
      );
    }
    const tenants = await db.selectFrom('tenants').selectAll().execute();
    for (const t of tenants) {
      const own = live.filter((v) => v.tenant_id === t.id);
      assert.deepEqual(
        {
          vms: Number(t.used_vms),
          vcpus: Number(t.used_vcpus),
          memoryMiB: Number(t.used_memory_mib),
          diskGiB: Number(t.used_disk_gib),
        },
        {
          vms: own.length,
          vcpus: own.reduce((s, v) => s + v.vcpus, 0),
          memoryMiB: own.reduce((s, v) => s + v.memory_mib, 0),
          diskGiB: own.reduce((s, v) => s + v.disk_gib, 0),
        },
        `${context}: tenant ${t.name}'s counters`,
      );
    }

    // Billing: every running VM has exactly one open usage interval, of class running, on its host
    // and flavor; a deleted VM has none; no VM has two.
    const open = await db.selectFrom('usage').selectAll().where('end_at', 'is', null).execute();
    for (const v of vms) {
      const mine = open.filter((u) => u.vm_id === v.id);
      if (v.state === 'deleted')
        assert.equal(mine.length, 0, `${context}: deleted VM ${v.name} is still billed`);
      else assert.ok(mine.length <= 1, `${context}: VM ${v.name} has ${mine.length} open usage intervals`);
      if (v.state === 'running') {
        assert.equal(mine.length, 1, `${context}: running VM ${v.name} is not billed`);
        assert.deepEqual(
          { class: mine[0]!.class, host: mine[0]!.host_id, flavor: mine[0]!.flavor_id },
          { class: 'running', host: v.host_id, flavor: v.flavor_id },
          `${context}: running VM ${v.name}'s usage interval`,
        );
      }
    }

    return live;
  }
}

async function assertGuestsMatch(
  live: { id: string; name: string; state: string; host_id: string | null }[],
  apiUrl: string,
  data: string,
  context: string,
) {
  {
    // Every VM has an action left (at least delete).
    const api = client(apiUrl);
    for (const v of live) {
      const r = await api('GET', `/v1/vms/${v.id}`);
      assert.equal(r.status, 200, `${context}: GET VM ${v.name}: ${JSON.stringify(r.body)}`);
      assert.ok(
        r.body.allowedActions?.length > 0,
        `${context}: VM ${v.name} (${v.state}) has no allowed action`,
      );
    }

    // The simulated hosts' guests match the records: one guest per live VM, on its host, running
    // when the VM is running; none for deleted VMs.
    const stateFile = join(data, 'sim-hosts.json');
    if (existsSync(stateFile) || existsSync(`${stateFile}.log`)) {
      // Read the hosts' state as the driver does after a restart (state file and journal).
      const sim = new SimHypervisorDriver(new SimClock(), { stateFile });
      const guests = new Map(
        (await sim.list()).map((g) => [g.id, { state: g.state as string, hostId: sim.hostOf(g.id) }]),
      );
      for (const v of live) {
        const g = guests.get(v.id);
        if (v.state === 'running') {
          assert.equal(g?.state, 'running', `${context}: running VM ${v.name} has no running guest`);
          assert.equal(g?.hostId, v.host_id, `${context}: VM ${v.name}'s guest is on another host`);
        }
      }
      const known = new Set(live.map((v) => v.id));
      for (const id of guests.keys()) assert.ok(known.has(id), `${context}: guest ${id} has no live VM`);
    }
  }
}
