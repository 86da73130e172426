import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { connection } from './commands/common.ts';
import { credentialsPath, parseCredentials, readCredentials, writeCredentials } from './credentials.ts';

const dir = mkdtempSync(join(tmpdir(), 'nubis-creds-'));

test('parseCredentials() reads JSON and INI (sections, comments, quotes) and names the file and formats when it cannot', () => {
  assert.deepEqual(parseCredentials('{"url":"http://a:1","token":"t1"}', 'f'), {
    url: 'http://a:1',
    token: 't1',
  });
  assert.deepEqual(parseCredentials('[default]\n# c\n; c\nurl = http://a:1\nTOKEN: "t 2"\n', 'f'), {
    url: 'http://a:1',
    token: 't 2',
  });
  assert.throws(() => parseCredentials('{"token": 3}', 'F'), /F: "token" must be a string; accepted: JSON/);
  assert.throws(
    () => parseCredentials('password = x', 'F'),
    /F: line 1 is not "url = \.\.\." or "token = \.\.\."/,
  );
});

test('readCredentials() refuses a file others can read, saying chmod 600, and never shows the token', () => {
  const f = join(dir, 'open');
  writeFileSync(f, 'token = sekret-1\n');
  chmodSync(f, 0o640);
  assert.throws(
    () => readCredentials(f),
    (e: Error) => /mode 640.*chmod 600/.test(e.message) && !e.message.includes('sekret-1'),
  );
  chmodSync(f, 0o600);
  assert.equal(readCredentials(f).token, 'sekret-1');
  assert.deepEqual(readCredentials(join(dir, 'missing')), {});
});

test('writeCredentials() writes 0600 in a 0700 folder and tightens an existing file', () => {
  const f = join(dir, 'new', 'credentials');
  writeCredentials(f, { url: 'http://h:8080', token: 'tok' });
  assert.equal(statSync(f).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'new')).mode & 0o777, 0o700);
  assert.deepEqual(readCredentials(f), { url: 'http://h:8080', token: 'tok' });
  chmodSync(f, 0o644);
  writeCredentials(f, { url: 'http://h:8080', token: 'tok2' });
  assert.equal(statSync(f).mode & 0o777, 0o600);
  assert.match(readFileSync(f, 'utf8'), /token = tok2/);
});

test('connection(): --token is refused; NUBIS_TOKEN wins; the file fills in; its token goes only to its URL', () => {
  const f = join(dir, 'conn');
  writeCredentials(f, { url: 'http://h:8080', token: 'file-tok' });
  const env = { NUBIS_CREDENTIALS: f };
  assert.equal(credentialsPath(env), f);
  assert.equal(credentialsPath({ XDG_CONFIG_HOME: '/x' }), '/x/nubis/credentials');
  assert.throws(() => connection({ token: 'argv-tok' }, env), /TOKEN_ON_ARGV|--token was removed/);
  assert.deepEqual(connection({}, env), { url: 'http://h:8080', token: 'file-tok' });
  assert.deepEqual(connection({ url: 'http://h:8080/' }, env), { url: 'http://h:8080/', token: 'file-tok' });
  assert.deepEqual(connection({}, { ...env, NUBIS_TOKEN: 'env-tok' }), {
    url: 'http://h:8080',
    token: 'env-tok',
  });
  assert.throws(
    () => connection({ url: 'http://evil:80' }, env),
    /is for http:\/\/h:8080, not http:\/\/evil:80/,
  );
  assert.deepEqual(connection({}, { NUBIS_CREDENTIALS: join(dir, 'none') }), {
    url: 'http://127.0.0.1:8080',
    token: undefined,
  });
});
