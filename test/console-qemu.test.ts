/**
 * The serial console of a real QEMU guest (TCG) through an agent over HTTP: the log shows the tiny
 * guest's `nubis-ready`, and a line typed through the console WebSocket reaches the shell the guest
 * runs on ttyS0 and its answer comes back. The interactive part needs a guest with a shell on
 * ttyS0 (guest/init.sh starts one, or NUBIS_GUEST_DIR names such a build).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildAgentServer } from '../src/agent/agent-server.ts';
import { AgentDriver } from '../src/drivers/agent/agent-driver.ts';
import { QemuDriver } from '../src/drivers/qemu/qemu-driver.ts';
import { DriverError } from '../src/core/hypervisor.ts';
import { tinyGuest, waitForSerial } from './helpers/guest.ts';

const root = new URL('..', import.meta.url).pathname;
const g = tinyGuest();
const shellOnTtyS0 =
  process.env.NUBIS_GUEST_DIR !== undefined ||
  /ttyS0/.test(readFileSync(join(root, 'guest/init.sh'), 'utf8'));

describe(
  'the serial console of a real QEMU guest through its agent',
  { skip: typeof g === 'string' ? g : false },
  () => {
    let dir = '';
    let qemu: QemuDriver;
    let app: FastifyInstance;
    let agent: AgentDriver;
    const id = 'con-1';

    before(async () => {
      const t = g as Exclude<typeof g, string>;
      dir = mkdtempSync(join(tmpdir(), 'nubis-console-'));
      qemu = await QemuDriver.open({
        stateDir: join(dir, 'state'),
        accel: 'tcg',
        imageDirs: [join(t.kernel, '..')],
      });
      app = buildAgentServer({ driver: qemu, token: 'k' });
      const url = await app.listen({ host: '127.0.0.1', port: 0 });
      agent = new AgentDriver(url, 'k');
      await agent.create({
        id,
        memoryMiB: 128,
        vcpus: 1,
        image: { kernel: t.kernel, initrd: t.initrd },
        workload: { mib: 4, rateMiBps: 0 },
      });
      await agent.start(id);
      await waitForSerial(qemu.serialLog(id), (l) => l.includes('nubis-ready'), 120_000);
    });
    after(async () => {
      await qemu?.delete(id).catch(() => {});
      await app?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test('the log shows nubis-ready, bounded to the tail asked for', async () => {
      const log = await agent.consoleLog(id);
      assert.match(log.text, /nubis-ready/);
      assert.equal(log.truncated, false);
      const tail = await agent.consoleLog(id, { tailBytes: 10 });
      assert.equal(Buffer.byteLength(tail.text), 10);
      assert.equal(tail.truncated, true);
      assert.ok(tail.sizeBytes >= log.sizeBytes, 'the size of the whole log (which only grows)');
      await assert.rejects(
        agent.consoleLog('no-such-guest'),
        (e) => e instanceof DriverError && e.code === 'NOT_FOUND',
      );
    });

    test('a wrong agent credential opens no console', async () => {
      const intruder = new AgentDriver(agent.url, 'wrong');
      await assert.rejects(intruder.openConsole(id), (e) => e instanceof DriverError && e.code === 'BACKEND');
      await assert.rejects(intruder.consoleLog(id), DriverError);
    });

    test(
      'a line typed on the console reaches the guest shell and its answer comes back',
      { skip: shellOnTtyS0 ? false : 'this guest runs no shell on ttyS0 (guest/init.sh)' },
      async () => {
        const con = await agent.openConsole(id);
        const n = Math.floor(Math.random() * 1e6);
        let seen = '';
        const answered = new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`no answer; the console showed ${JSON.stringify(seen.slice(-300))}`)),
            60_000,
          );
          con.onData((d) => {
            seen += Buffer.from(d).toString('utf8');
            // The typed line echoes as `echo hel""lo-N`; only the shell's answer reads `hello-N`.
            if (new RegExp(`(^|\\n)hello-${n}\\r?\\n`).test(seen)) {
              clearTimeout(timer);
              resolve();
            }
          });
        });
        con.write(`\necho hel""lo-${n}\n`);
        await answered;
        con.close();
        // And the session went to the log too.
        assert.match((await agent.consoleLog(id)).text, new RegExp(`hello-${n}`));
      },
    );
  },
);
