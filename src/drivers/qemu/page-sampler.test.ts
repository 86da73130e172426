import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { estimateSharing } from '../../core/memory/fingerprint.ts';
import { estimateMergingPages } from './ksm-compare.ts';
import {
  guestRamMappings,
  PAGE_BYTES,
  pageHash,
  parseMaps,
  presentRuns,
  scanGuestMemory,
} from './page-sampler.ts';

// A QEMU process's smaps, cut down: the binary, the TCG code buffer, a same-size anonymous mapping
// without QEMU's RAM flags, and the guest RAM (256 MiB, `dc` = MADV_DONTFORK as QEMU marks RAM blocks).
const SMAPS = `560beb2ce000-560bebeba000 r--p 00e6e000 fe:00 2170886                    /usr/bin/qemu-system-x86_64
Rss:                1632 kB
VmFlags: rd mr mw me ac 
7f0f00000000-7f0f10000000 rw-p 00000000 00:00 0 
Rss:                   4 kB
VmFlags: rd wr mr mw me ac 
7f101fe00000-7f102fe00000 rw-p 00000000 00:00 0 
Rss:              223232 kB
AnonHugePages:    223232 kB
VmFlags: rd wr mr mw me dc ac hg mg 
7f1038000000-7f1077fff000 rwxp 00000000 00:00 0 
VmFlags: rd wr ex mr mw me ac hg 
7f2000000000-7f2010000000 rw-s 00000000 00:01 4242                       /memfd:pc.ram (deleted)
VmFlags: rd wr sh mr mw me ms 
`;

test('maps/smaps parsing: addresses, permissions, paths and VmFlags', () => {
  const m = parseMaps(SMAPS);
  assert.equal(m.length, 5);
  assert.deepEqual(m[0], {
    start: 0x560beb2ce000,
    end: 0x560bebeba000,
    perms: 'r--p',
    inode: 2170886,
    path: '/usr/bin/qemu-system-x86_64',
    flags: ['rd', 'mr', 'mw', 'me', 'ac'],
  });
  assert.equal(m[2]!.end - m[2]!.start, 256 * 2 ** 20);
  assert.deepEqual(m[2]!.flags, ['rd', 'wr', 'mr', 'mw', 'me', 'dc', 'ac', 'hg', 'mg']);
  assert.equal(m[4]!.path, '/memfd:pc.ram (deleted)');
});

test('the guest RAM is the anonymous read-write mapping of its size, QEMU-flagged first', () => {
  const m = parseMaps(SMAPS);
  assert.deepEqual(
    guestRamMappings(m, 256 * 2 ** 20).map((e) => e.start),
    [0x7f101fe00000],
  );
  // Without smaps flags (plain maps): the first anonymous mapping of the size.
  const plain = m.map(({ flags: _f, ...e }) => e);
  assert.deepEqual(
    guestRamMappings(plain, 256 * 2 ** 20).map((e) => e.start),
    [0x7f0f00000000],
  );
  assert.throws(() => guestRamMappings(m, 512 * 2 ** 20), /no anonymous read-write mapping of 512 MiB/);
});

const entry = (present: boolean, swapped = false) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE((present ? 1n << 63n : 0n) | (swapped ? 1n << 62n : 0n) | 0x1234n);
  return b;
};

test('pagemap: runs of present pages, swapped pages counted apart', () => {
  const pm = Buffer.concat([
    entry(true),
    entry(true),
    entry(false),
    entry(false, true),
    entry(true),
    entry(false),
    entry(true),
    entry(true),
    entry(true),
  ]);
  assert.deepEqual(presentRuns(pm, 10), {
    runs: [
      [10, 2],
      [14, 1],
      [16, 3],
    ],
    swapped: 1,
  });
  assert.deepEqual(presentRuns(Buffer.alloc(0)), { runs: [], swapped: 0 });
});

test('page hashes are 48-bit, content-determined', () => {
  const a = Buffer.alloc(PAGE_BYTES, 7);
  const h = pageHash(a);
  assert.ok(Number.isSafeInteger(h) && h >= 0 && h < 2 ** 48);
  assert.equal(pageHash(Buffer.alloc(PAGE_BYTES, 7)), h);
  assert.notEqual(pageHash(Buffer.alloc(PAGE_BYTES, 8)), h);
  // Keyed: deterministic for one key, different without it or with another.
  const k1 = Buffer.from('cloud-key-1');
  assert.equal(pageHash(a, k1), pageHash(Buffer.alloc(PAGE_BYTES, 7), k1));
  assert.notEqual(pageHash(a, k1), h);
  assert.notEqual(pageHash(a, k1), pageHash(a, Buffer.from('cloud-key-2')));
});

/** A fake /proc/PID: smaps with one RAM mapping at `base`, a pagemap, and a "mem" file. */
function fakeProc(pages: Buffer[], present: boolean[]) {
  const root = mkdtempSync(join(tmpdir(), 'nubis-sampler-'));
  const dir = join(root, '4242');
  mkdirSync(dir);
  // Small addresses so the fake mem file stays small: the mapping starts at page 4.
  const base = 4 * PAGE_BYTES;
  const end = base + pages.length * PAGE_BYTES;
  writeFileSync(
    join(dir, 'smaps'),
    `${base.toString(16)}-${end.toString(16)} rw-p 00000000 00:00 0 \nVmFlags: rd wr mr mw me dc mg\n`,
  );
  const pm = Buffer.alloc((4 + pages.length) * 8);
  present.forEach((p, i) => entry(p).copy(pm, (4 + i) * 8));
  writeFileSync(join(dir, 'pagemap'), pm);
  writeFileSync(join(dir, 'mem'), Buffer.concat([Buffer.alloc(base), ...pages]));
  return { root, bytes: pages.length * PAGE_BYTES };
}

test('a scan reads present pages only, counts zero and one-byte pages exactly and hashes the rest', async () => {
  // Content b: a page of b with one other byte (not a one-byte page); 0 is a zero page.
  const page = (b: number) => {
    const x = Buffer.alloc(PAGE_BYTES, b);
    if (b) x[100] = b ^ 0x55;
    return x;
  };
  const poison = Buffer.alloc(PAGE_BYTES, 0xcc);
  const pages = [page(1), page(0), page(1), page(2), page(0), page(9), page(3), poison, poison];
  const present = [true, true, true, true, true, false, true, true, true];
  const { root, bytes } = fakeProc(pages, present);
  try {
    const s = await scanGuestMemory(4242, bytes, { procRoot: root, sampleBits: 0, chunkPages: 3 });
    assert.equal(s.totalPages, 9);
    assert.equal(s.residentPages, 8);
    assert.equal(s.fingerprint.pages, 8);
    assert.equal(s.fingerprint.zeroPages, 2);
    assert.deepEqual(s.fingerprint.uniformPages, [[0xcc, 2]]);
    // Contents 1 (twice), 2, 3: the absent page 9 is not read.
    assert.deepEqual([...s.fingerprint.counts].sort(), [1, 1, 2]);
    assert.ok(!s.fingerprint.hashes.includes(pageHash(page(9))));
    assert.ok(s.scanCpuMs >= 0);
    // Saved by merging in this guest alone: one duplicate of content 1, one zero page, one poison page.
    assert.equal(estimateSharing([s.fingerprint]).savedPages, 3);
    assert.equal(estimateMergingPages([s.fingerprint]), 6);
    assert.equal(estimateMergingPages([s.fingerprint], true), 4);
    // Only hashes and counts come out: no page bytes anywhere in the result.
    assert.ok(!JSON.stringify(s).includes('"data"'));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("zero pages that map the kernel's shared zero page (kpageflags) hold no memory and are left out", async () => {
  const page = (b: number) => Buffer.alloc(PAGE_BYTES, b);
  const { root, bytes } = fakeProc([page(0), page(1), page(0)], [true, true, true]);
  try {
    // Every fake entry names frame 0x1234; flag it as the zero page (KPF_ZERO_PAGE, bit 24).
    const flags = Buffer.alloc((0x1234 + 1) * 8);
    flags.writeBigUInt64LE(1n << 24n, 0x1234 * 8);
    writeFileSync(join(root, 'kpageflags'), flags);
    const s = await scanGuestMemory(4242, bytes, { procRoot: root, sampleBits: 0 });
    assert.equal(s.sharedZeroPages, 2);
    assert.equal(s.residentPages, 1);
    assert.equal(s.fingerprint.pages, 1);
    assert.equal(s.fingerprint.zeroPages, 0);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a scan of a process without the RAM mapping fails with the reason', async () => {
  const { root } = fakeProc([Buffer.alloc(PAGE_BYTES, 1)], [true]);
  try {
    await assert.rejects(
      scanGuestMemory(4242, 2 ** 30, { procRoot: root }),
      /no anonymous read-write mapping/,
    );
    await assert.rejects(scanGuestMemory(-1, 2 ** 30), /bad process id/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
