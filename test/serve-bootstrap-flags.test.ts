/**
 * The OpenStack contract's bootstrap, as written there: `nubis serve --bootstrap-token T
 * --bootstrap-password PW` starts with that admin token and lets the admin user `admin` log in to
 * Keystone (project `admin`) with that password; both flags warn that `ps` shows them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { killServe, startServe, type Serve } from './helpers/recovery.ts';

const dirs: string[] = [];
let s: Serve | undefined;
let s2: Serve | undefined;
after(async () => {
  if (s) await killServe(s);
  if (s2) await killServe(s2);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('serve --bootstrap-token T --bootstrap-password PW: the token works on /v1, the password on Keystone, with warnings', async () => {
  const data = mkdtempSync(join(tmpdir(), 'nubis-bootflags-'));
  dirs.push(data);
  let err = '';
  s = await startServe(
    data,
    `sqlite:${join(data, 'nubis.db')}`,
    ['--bootstrap-token', 'contract-tok', '--bootstrap-password', 'contract-pw'],
    { NUBIS_BOOTSTRAP_TOKEN: '' },
  );
  s.proc.stderr!.on('data', (d) => (err += d));
  const me = await fetch(`${s.url}/v1/me`, { headers: { authorization: 'Bearer contract-tok' } });
  assert.equal(me.status, 200);
  assert.equal((await me.json()).role, 'admin');
  const login = (password: string) =>
    fetch(`${s!.url}/openstack/identity/v3/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: 'admin', domain: { id: 'default' }, password } },
          },
          scope: { project: { name: 'admin', domain: { id: 'default' } } },
        },
      }),
    });
  const ok = await login('contract-pw');
  assert.equal(ok.status, 201);
  assert.ok(ok.headers.get('x-subject-token'));
  assert.equal((await login('wrong')).status, 401);
  const out = s.out() + err;
  assert.match(out, /--bootstrap-token is visible to other local users/);
  assert.match(out, /--bootstrap-password is visible to other local users/);
  assert.doesNotMatch(out, /contract-pw/);
});

test('serve --public-url: the OpenStack catalog names that URL, not the Host header', async () => {
  const data = mkdtempSync(join(tmpdir(), 'nubis-puburl-'));
  dirs.push(data);
  s2 = await startServe(
    data,
    `sqlite:${join(data, 'nubis.db')}`,
    ['--public-url', 'https://cloud.example.org'],
    {
      NUBIS_BOOTSTRAP_PASSWORD: 'pw',
    },
  );
  const r = await fetch(`${s2.url}/openstack/identity/v3/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: 'admin', domain: { id: 'default' }, password: 'pw' } },
        },
        scope: { project: { name: 'admin', domain: { id: 'default' } } },
      },
    }),
  });
  assert.equal(r.status, 201);
  const urls = ((await r.json()).token.catalog as { endpoints: { url: string }[] }[]).flatMap((e) =>
    e.endpoints.map((x) => x.url),
  );
  assert.equal(urls.length, 5);
  for (const u of urls) assert.match(u, /^https:\/\/cloud\.example\.org\/openstack\//);
});
