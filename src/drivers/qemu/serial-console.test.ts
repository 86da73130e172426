import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CONSOLE_LOG_MAX_BYTES } from '../../core/console.ts';
import { DriverError } from '../../core/hypervisor.ts';
import { openSerialConsole, readConsoleLog } from './serial-console.ts';

const dir = mkdtempSync(join(tmpdir(), 'nubis-serial-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('readConsoleLog() returns only the tail asked for, never more than 1 MiB, with the whole size', () => {
  const d = mkdtempSync(join(dir, 'log-'));
  const big = Buffer.alloc(3 * CONSOLE_LOG_MAX_BYTES, 'a');
  big.write('END', big.length - 3);
  writeFileSync(join(d, 'serial.log'), big);
  const max = readConsoleLog(d, { tailBytes: 10 * CONSOLE_LOG_MAX_BYTES });
  assert.equal(max.text.length, CONSOLE_LOG_MAX_BYTES);
  assert.equal(max.sizeBytes, big.length);
  assert.equal(max.truncated, true);
  assert.deepEqual(readConsoleLog(d, { tailBytes: 5 }), {
    text: 'aaEND',
    sizeBytes: big.length,
    truncated: true,
  });
});

test('readConsoleLog() of a guest that wrote nothing yet is empty', () => {
  assert.deepEqual(readConsoleLog(mkdtempSync(join(dir, 'empty-'))), {
    text: '',
    sizeBytes: 0,
    truncated: false,
  });
});

/** A stand-in for QEMU's serial socket: echoes what it gets, upper-cased. */
function fakeSerial(d: string): Promise<{ server: Server; clients: Socket[] }> {
  const clients: Socket[] = [];
  const server = createServer((s) => {
    clients.push(s);
    s.on('data', (b) => s.write(b.toString().toUpperCase()));
    s.on('error', () => {});
  });
  return new Promise((ok) => server.listen(join(d, 'console.sock'), () => ok({ server, clients })));
}

test('openSerialConsole() carries bytes both ways; a second session takes over and the first is told', async () => {
  const d = mkdtempSync(join(dir, 'sock-'));
  const { server } = await fakeSerial(d);
  try {
    const a = await openSerialConsole('g1', d);
    const closedA = new Promise<string | undefined>((r) => a.onClose(r));
    const gotA = new Promise<string>((r) => a.onData((x) => r(Buffer.from(x).toString())));
    a.write('hi\n');
    assert.equal(await gotA, 'HI\n');
    const b = await openSerialConsole('g1', d);
    assert.match((await closedA) ?? '', /taken over/);
    const gotB = new Promise<string>((r) => b.onData((x) => r(Buffer.from(x).toString())));
    b.write('again');
    assert.equal(await gotB, 'AGAIN');
    const closedB = new Promise<string | undefined>((r) => b.onClose(r));
    b.close();
    assert.equal(await closedB, 'closed');
  } finally {
    server.close();
  }
});

test('openSerialConsole() of a guest whose socket is not there is INVALID_STATE', async () => {
  await assert.rejects(
    openSerialConsole('g2', mkdtempSync(join(dir, 'none-'))),
    (e) => e instanceof DriverError && e.code === 'INVALID_STATE' && /running/.test(e.message),
  );
});
