/**
 * Crash recovery: SIGKILL `nubis serve` at seeded random points of a bounded stream of mixed
 * operations over HTTP (creates, deletes, migrations, resizes, start/stop, drains, plan audit+apply,
 * power), restart it on the same database, and require that its first reconciliation round leaves
 * nothing half done (test/helpers/recovery.ts lists the invariants). On SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { seededRandom, type Random } from '../src/runtime/random.ts';
import { storeBackends } from './helpers/control.ts';
import { assertRecovered, client, killServe, startServe, type Serve } from './helpers/recovery.ts';

const dirs: string[] = [];
const alive: Serve[] = [];
after(async () => {
  for (const s of alive) await killServe(s);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const ROUNDS = 6;
/** Steps where an operation's side effect is done and its record not yet updated. */
const CRASH_STEPS = ['guest-created', 'guest-moved', 'driver-done'];
const FLAVORS = ['m1.tiny', 'm1.small', 'm1.medium'];
const pick = <T>(r: Random, xs: T[]): T | undefined => (xs.length ? xs[r.int(xs.length)] : undefined);

/** One random request of the mix (its outcome does not matter: a refusal is as good as a success). */
async function randomOp(api: ReturnType<typeof client>, r: Random, n: number): Promise<unknown> {
  const vms = ((await api('GET', '/v1/vms')).body ?? []) as { id: string; state: string }[];
  const hosts = ((await api('GET', '/v1/hosts')).body ?? []) as {
    id: string;
    state: string;
    vmCount?: number;
  }[];
  if (!Array.isArray(vms) || !Array.isArray(hosts)) return;
  const vm = pick(r, vms);
  const host = pick(r, hosts);
  switch (r.int(12)) {
    case 0:
    case 1:
    case 2:
      return api('POST', '/v1/vms', { name: `vm-${n}`, flavor: pick(r, FLAVORS), image: 'tiny' });
    case 3:
      return vm && api('DELETE', `/v1/vms/${vm.id}`);
    case 4:
    case 5:
      return vm && api('POST', `/v1/vms/${vm.id}/migrate`, {});
    case 6:
      return vm && api('POST', `/v1/vms/${vm.id}/actions`, { action: 'resize', flavor: pick(r, FLAVORS) });
    case 7:
      return (
        vm && api('POST', `/v1/vms/${vm.id}/actions`, { action: vm.state === 'running' ? 'stop' : 'start' })
      );
    case 8:
      return (
        host && api('POST', `/v1/hosts/${host.id}/${host.state === 'maintenance' ? 'undrain' : 'drain'}`)
      );
    case 9: {
      const plan = await api('POST', '/v1/plans', {});
      return plan.body?.id && api('POST', `/v1/plans/${plan.body.id}/apply`, {});
    }
    case 10:
      return (
        host && api('POST', `/v1/hosts/${host.id}/power`, { action: host.state === 'off' ? 'on' : 'off' })
      );
    default:
      return vm && api('POST', `/v1/vms/${vm.id}/actions`, { action: 'snapshot', snapshotName: `s${n}` });
  }
}

for (const backend of storeBackends()) {
  test(
    `${backend.name}: after a SIGKILL at a random point of mixed operations, the restarted control plane leaves no VM half done, no operation running, no orphan claim and no running VM unbilled`,
    { skip: backend.skip },
    async (t) => {
      const data = mkdtempSync(join(tmpdir(), 'nubis-crash-'));
      dirs.push(data);
      const store = await backend.url();
      const dbUrl = backend.name === 'SQLite' ? `sqlite:${join(data, 'nubis.db')}` : store.url;
      const r = seededRandom(20260110);
      let n = 0;
      let recovered = 0;
      try {
        for (let round = 0; round <= ROUNDS; round++) {
          // Odd rounds crash at a step of an operation (the process kills itself there); even
          // rounds are killed from outside during a burst of concurrent requests.
          const at = round % 2 === 1 ? CRASH_STEPS[r.int(CRASH_STEPS.length)]! : undefined;
          const s = await startServe(data, dbUrl, [], at ? { NUBIS_TEST_CRASH_AT: at } : {});
          alive.push(s);
          if (round > 0) await assertRecovered(dbUrl, s.url, data, `after kill ${round}`);
          recovered += Number(/(\d+) interrupted operation\(s\) recovered/.exec(s.out())?.[1] ?? 0);
          if (round === ROUNDS) {
            await killServe(s);
            break;
          }
          const api = client(s.url);
          if (at) {
            for (let i = 0; i < 60 && s.proc.exitCode === null && s.proc.signalCode === null; i++)
              await randomOp(api, r, n++);
          } else {
            // A settled warm-up, then a burst of concurrent requests cut short by the kill.
            for (let i = 0, k = 3 + r.int(6); i < k; i++) await randomOp(api, r, n++);
            const burst: Promise<unknown>[] = [];
            for (let i = 0, k = 4 + r.int(8); i < k; i++) burst.push(randomOp(api, r, n++));
            await new Promise((res) => setTimeout(res, 5 + r.int(60)));
            await killServe(s);
            await Promise.allSettled(burst);
          }
          await killServe(s);
        }
        // The kills landed inside operations (else this test would prove nothing).
        assert.ok(recovered > 0, 'no kill interrupted an operation');
      } finally {
        t.diagnostic(`${recovered} interrupted operation(s) recovered`);
        await store.drop();
      }
    },
  );
}
