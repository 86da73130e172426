import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { buildApi } from '../src/api/server.ts';
import { controlPlane } from './helpers/control.ts';

test("the dashboard's files are served at / and /assets: gzipped when the browser accepts it, cached forever when hashed, nothing outside the folder", async () => {
  const t = await controlPlane(':memory:', 0);
  const web = mkdtempSync(join(tmpdir(), 'nubis-web-'));
  mkdirSync(join(web, 'assets'));
  const js = 'console.log("nubis");\n'.repeat(200);
  writeFileSync(join(web, 'index.html'), '<!doctype html><title>nubis</title>');
  writeFileSync(join(web, 'assets', 'index-abc123.js'), js);
  const app = buildApi(t.cp, { web });
  try {
    const index = await app.inject({ method: 'GET', url: '/' });
    assert.equal(index.statusCode, 200);
    assert.match(index.headers['content-type'] as string, /text\/html/);
    assert.equal(index.headers['cache-control'], 'no-cache');
    const gz = await app.inject({
      method: 'GET',
      url: '/assets/index-abc123.js',
      headers: { 'accept-encoding': 'gzip, deflate, br' },
    });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.match(gz.headers['cache-control'] as string, /immutable/);
    assert.equal(gunzipSync(gz.rawPayload).toString(), js);
    assert.ok(gz.rawPayload.length < js.length / 10);
    const plain = await app.inject({ method: 'GET', url: '/assets/index-abc123.js' });
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.body, js);
    assert.equal((await app.inject({ method: 'GET', url: '/assets/..%2Findex.html' })).statusCode, 404);
    assert.equal((await app.inject({ method: 'GET', url: '/assets/missing.js' })).statusCode, 404);
    // Without a build: a clear answer, not a blank page.
    rmSync(join(web, 'index.html'));
    const none = await app.inject({ method: 'GET', url: '/' });
    assert.equal(none.statusCode, 503);
    assert.match(none.body, /npm run build:web/);
  } finally {
    await app.close();
    await t.close();
    rmSync(web, { recursive: true, force: true });
  }
});
