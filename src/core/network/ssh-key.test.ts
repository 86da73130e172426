import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSshPublicKey } from './ssh-key.ts';

const ED = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@laptop';

test('parseSshPublicKey() accepts an OpenSSH key line whose blob names its type', () => {
  const k = parseSshPublicKey(ED);
  assert.ok(typeof k !== 'string');
  assert.equal(k.type, 'ssh-ed25519');
  assert.equal(k.comment, 'me@laptop');
  assert.equal(k.blob.length, 51);
});

test('parseSshPublicKey() says what is wrong with a bad key', () => {
  assert.match(parseSshPublicKey('ssh-dss AAAA') as string, /key type "ssh-dss" is not supported/);
  assert.match(parseSshPublicKey('ssh-ed25519 !!!!') as string, /not base64/);
  assert.match(
    parseSshPublicKey(ED.replace('ssh-ed25519', 'ssh-rsa')) as string,
    /of type "ssh-ed25519", not "ssh-rsa"/,
  );
  assert.match(parseSshPublicKey('ssh-ed25519') as string, /not a public key line/);
  assert.match(parseSshPublicKey(`${ED}\n${ED}`) as string, /one line/);
  assert.match(parseSshPublicKey('ssh-ed25519 AAAAAQ==') as string, /truncated/);
});
