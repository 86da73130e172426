/** Pages of the API's lists, with a fake fetch: cursors followed, filters sent, older servers read whole. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  addPage,
  EMPTY_PAGES,
  fetchPage,
  nextCursor,
  pageUrl,
  wantsMore,
  type PagedState,
} from './paging.ts';

/** A fake /v1/vms after the pagination contract: keyset on the index, `X-Next-Cursor`, `Link`. */
function pagedServer(names: string[], calls: string[] = []) {
  return (async (input: string | URL | Request) => {
    const u = new URL(String(input), 'http://x');
    calls.push(u.pathname + u.search);
    const limit = Number(u.searchParams.get('limit') ?? 100);
    const from = Number(u.searchParams.get('cursor') ?? 0);
    const prefix = u.searchParams.get('name') ?? '';
    const all = names.map((name, i) => ({ id: `v${i}`, name })).filter((v) => v.name.startsWith(prefix));
    const rows = all.slice(from, from + limit);
    const headers = new Headers();
    if (from + limit < all.length) {
      headers.set('x-next-cursor', String(from + limit));
      headers.set('link', `</v1/vms?cursor=${from + limit}&limit=${limit}>; rel="next"`);
    }
    return new Response(JSON.stringify(rows), { status: 200, headers });
  }) as typeof fetch;
}

test('walking every page returns every row once, in order, whatever the page size', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 1, max: 25 }), async (n, limit) => {
      const names = Array.from({ length: n }, (_, i) => `vm-${i}`);
      const calls: string[] = [];
      const src = { token: () => 't', fetch: pagedServer(names, calls) };
      let s: PagedState<{ name: string }> = EMPTY_PAGES;
      let first = true;
      while (first || wantsMore(s, 0, 0, false)) {
        s = addPage(s, await fetchPage(src, '/v1/vms', { limit, cursor: s.next ?? undefined }), first);
        first = false;
      }
      assert.deepEqual(
        s.rows.map((r) => r.name),
        names,
      );
      assert.equal(s.done, true);
      assert.equal(calls.length, Math.max(1, Math.ceil(n / limit)));
    }),
  );
});

test('filters and fields go to the server; empty ones are left out; the cursor comes from either header', async () => {
  assert.equal(
    pageUrl('/v1/vms', { name: 'web', state: '', limit: 200, cursor: undefined, fields: 'name,state' }),
    '/v1/vms?name=web&limit=200&fields=name%2Cstate',
  );
  assert.equal(nextCursor(new Headers({ 'x-next-cursor': 'abc' })), 'abc');
  assert.equal(
    nextCursor(new Headers({ link: '</v1/vms?state=running&cursor=xyz&limit=5>; rel="next"' })),
    'xyz',
  );
  assert.equal(nextCursor(new Headers()), null);
  const calls: string[] = [];
  const p = await fetchPage<{ name: string }>(
    { token: () => 't', fetch: pagedServer(['web-1', 'db-1', 'web-2'], calls) },
    '/v1/vms',
    { name: 'web', limit: 1 },
  );
  assert.deepEqual(
    p.rows.map((r) => r.name),
    ['web-1'],
  );
  assert.equal(p.next, '1');
  assert.deepEqual(calls, ['/v1/vms?name=web&limit=1']);
});

test('a server from before pagination: asked again without the keys it refused, its whole list one last page', async () => {
  const calls: string[] = [];
  const old = (async (input: string | URL | Request) => {
    const u = new URL(String(input), 'http://x');
    calls.push(u.search);
    const unknown = [...u.searchParams.keys()].filter((k) => k !== 'state');
    if (unknown.length)
      return new Response(
        JSON.stringify({
          code: 'BAD_REQUEST',
          message: `Invalid request: query: Unrecognized keys: ${unknown.map((k) => `"${k}"`).join(', ')}`,
        }),
        { status: 400 },
      );
    return new Response(JSON.stringify([{ name: 'web-1' }, { name: 'db-1' }, { name: 'web-2' }]));
  }) as typeof fetch;
  const p = await fetchPage<{ name: string }>({ token: () => 't', fetch: old }, '/v1/vms', {
    name: 'web',
    state: 'running',
    limit: 200,
    fields: 'name',
  });
  assert.deepEqual(
    p.rows.map((r) => r.name),
    ['web-1', 'web-2'],
    'the name prefix applied here',
  );
  assert.equal(p.next, null);
  assert.deepEqual(calls, ['?name=web&state=running&limit=200&fields=name', '?state=running']);
  // Any other refusal is an error with the server's message.
  const bad = (async () =>
    new Response(JSON.stringify({ message: 'invalid cursor' }), { status: 400 })) as typeof fetch;
  await assert.rejects(
    fetchPage({ token: () => null, fetch: bad }, '/v1/vms', { cursor: 'x' }),
    /invalid cursor/,
  );
});

test('the next page is read only when the view nears the end of the rows shown and none is in flight', () => {
  const s: PagedState<number> = { rows: [1, 2, 3], next: 'c', done: false };
  assert.equal(wantsMore(s, 200, 100, false), false);
  assert.equal(wantsMore(s, 100, 100, false), true);
  assert.equal(wantsMore(s, 0, 100, true), false, 'one page at a time');
  assert.equal(wantsMore({ ...s, next: null, done: true }, 0, 100, false), false);
});
