import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { STORAGE_ID_PATTERN } from '../../core/storage/host-storage.ts';
import { checkStorageId, parsePoolFlag } from './storage-pools.ts';

test('--pool NAME=DIR[:shared] is parsed; a bad name is refused', () => {
  assert.deepEqual(parsePoolFlag('fast=/srv/fast'), { name: 'fast', kind: 'local', dir: '/srv/fast' });
  assert.deepEqual(parsePoolFlag('nas=/mnt/nas:shared'), { name: 'nas', kind: 'shared', dir: '/mnt/nas' });
  for (const f of ['=/x', '../x=/x', 'a/b=/x', 'fast', 'fast='])
    assert.throws(() => parsePoolFlag(f), RangeError, f);
});

test('volume ids and pool names: exactly the contract pattern passes', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 70 }), (s) => {
      let ok = true;
      try {
        checkStorageId(s);
      } catch {
        ok = false;
      }
      assert.equal(ok, STORAGE_ID_PATTERN.test(s));
      if (ok) assert.ok(!s.includes('/') && s !== '.' && s !== '..');
    }),
  );
});
