import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashPassword, verifyPassword } from './passwords.ts';

test('verifyPassword: the right password matches its salted scrypt hash; a wrong, missing or malformed one does not', async () => {
  const stored = await hashPassword('s3cret', 'salt-1');
  assert.match(stored, /^scrypt\$16384\$8\$1\$salt-1\$[A-Za-z0-9_-]{43}$/);
  assert.notEqual(stored, await hashPassword('s3cret', 'salt-2'), 'the salt changes the hash');
  assert.equal(await verifyPassword('s3cret', stored), true);
  assert.equal(await verifyPassword('s3cret ', stored), false);
  assert.equal(await verifyPassword('', stored), false);
  for (const bad of [
    null,
    undefined,
    '',
    'plain',
    'scrypt$x$8$1$salt$abc',
    stored.replace('scrypt', 'bcrypt'),
  ])
    assert.equal(await verifyPassword('s3cret', bad), false, String(bad));
});
