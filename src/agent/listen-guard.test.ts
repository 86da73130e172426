import assert from 'node:assert/strict';
import { test } from 'node:test';
import { boundUrl, checkListenHost, isLoopback } from './listen-guard.ts';

test('isLoopback() accepts 127.0.0.0/8 and ::1 only', () => {
  for (const a of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', '::ffff:127.0.0.1']) assert.ok(isLoopback(a), a);
  for (const a of ['0.0.0.0', '::', '10.0.0.5', '128.0.0.1', 'localhost', '::2', '1.127.0.0'])
    assert.ok(!isLoopback(a), a);
});

test('checkListenHost() refuses a non-loopback host without a token and says how to set one', () => {
  assert.throws(
    () => checkListenHost('0.0.0.0', false),
    /Refusing to listen on 0\.0\.0\.0.*NUBIS_AGENT_TOKEN/,
  );
  assert.throws(() => checkListenHost('example.org', false), RangeError);
  checkListenHost('0.0.0.0', true);
  checkListenHost('127.0.0.1', false);
  checkListenHost('localhost', false);
});

test('boundUrl() brackets IPv6 addresses', () => {
  assert.equal(boundUrl({ address: '0.0.0.0', port: 7070 }), 'http://0.0.0.0:7070');
  assert.equal(boundUrl({ address: '::1', port: 1 }), 'http://[::1]:1');
});
