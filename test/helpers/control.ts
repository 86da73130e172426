/** A control plane in-process on a given store, with helpers for API tests. */
import { highsSolver } from '../../src/drivers/highs/highs-solver.ts';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { buildApi } from '../../src/api/server.ts';
import { ControlPlane, seedDemo } from '../../src/control/control-plane.ts';
import { openStore } from '../../src/control/store/open-store.ts';
import { createHostDrivers } from '../../src/drivers/host-drivers.ts';
import { createImageFiles } from '../../src/drivers/image-files.ts';
import { SimHypervisorDriver } from '../../src/drivers/sim/sim-driver.ts';
import { SimClock } from '../../src/runtime/clock.ts';

/** A store to run a suite on; `skip` (the reason) when it cannot run here. */
export interface StoreBackend {
  name: string;
  /** Why this backend is not available (pass as `{ skip: backend.skip }`); undefined when it runs. */
  skip?: string;
  /** A fresh, empty database and how to drop it. */
  url: () => Promise<{ url: string; drop: () => Promise<void> }>;
}

/** Why the PostgreSQL suites are skipped when NUBIS_TEST_PG_URL is unset. */
export const PG_SKIP =
  'PostgreSQL: set NUBIS_TEST_PG_URL=postgres://USER:PASS@HOST/DB, see scripts/start-postgres.sh';

/**
 * The stores to run a suite on: SQLite always; PostgreSQL on NUBIS_TEST_PG_URL (CI), else as a
 * backend with `skip` set, so the suite is reported as skipped with the reason instead of missing.
 * Use: `for (const backend of storeBackends()) { if (backend.skip) { test(title, { skip: backend.skip });
 * continue; } … }` (in a `describe`: `if (backend.skip) return void test(title, { skip: backend.skip });`).
 */
export function storeBackends(): StoreBackend[] {
  const list: StoreBackend[] = [
    { name: 'SQLite', url: async () => ({ url: ':memory:', drop: async () => {} }) },
  ];
  const base = process.env.NUBIS_TEST_PG_URL;
  if (!base)
    list.push({
      name: 'PostgreSQL',
      skip: PG_SKIP,
      url: () => Promise.reject(new Error(PG_SKIP)),
    });
  else
    list.push({
      name: 'PostgreSQL',
      url: async () => {
        const name = `nubis_t_${randomBytes(6).toString('hex')}`;
        const admin = new pg.Client({ connectionString: base });
        await admin.connect();
        await admin.query(`create database ${name}`);
        await admin.end();
        const u = new URL(base);
        u.pathname = `/${name}`;
        return {
          url: u.toString(),
          drop: async () => {
            // An autovacuum worker may be on the database for a moment (a superuser's process: FORCE may not
            // end it): retry, and always close the client so the test process can exit.
            const c = new pg.Client({ connectionString: base });
            await c.connect();
            try {
              for (let i = 0; ; i++) {
                try {
                  await c.query(`drop database if exists ${name} with (force)`);
                  return;
                } catch (e) {
                  if (i >= 20) throw e;
                  await new Promise((r) => setTimeout(r, 250));
                }
              }
            } finally {
              await c.end();
            }
          },
        };
      },
    });
  return list;
}

export async function controlPlane(url: string, hosts = 4, o: { imageMaxBytes?: number } = {}) {
  const db = await openStore(url);
  const clock = new SimClock(1_800_000_000);
  const sim = new SimHypervisorDriver(clock);
  const imageDir = mkdtempSync(join(tmpdir(), 'nubis-images-'));
  const cp: ControlPlane = new ControlPlane({
    db,
    clock,
    hostDrivers: createHostDrivers({ sim }),
    imageFiles: createImageFiles(imageDir),
    imageMaxBytes: o.imageMaxBytes,
    milpSolver: highsSolver(),
  });
  const adminToken = (await cp.bootstrap('admin-token'))!;
  const admin = (await cp.authenticate(adminToken))!;
  await seedDemo(cp, admin, hosts);
  const app = buildApi(cp);
  const call = async (
    token: string | undefined,
    method: string,
    url: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    const r = await app.inject({
      method: method as 'GET',
      url,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
      ...(body !== undefined ? { payload: body as object } : {}),
    });
    const json = String(r.headers['content-type'] ?? 'application/json').includes('json');
    return { status: r.statusCode, body: r.body ? (json ? JSON.parse(r.body) : r.rawPayload) : undefined };
  };
  return {
    db,
    cp,
    app,
    sim,
    clock,
    admin,
    adminToken,
    call,
    imageDir,
    close: async () => {
      await app.close();
      await db.destroy();
      rmSync(imageDir, { recursive: true, force: true });
    },
  };
}
