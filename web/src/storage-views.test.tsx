/** Component tests of the storage pages (images, volumes, pools), rendered to HTML, and their pure helpers. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderToStaticMarkup } from 'react-dom/server';
import type { Host, Image, Me, StoragePool, Volume } from './api.ts';
import { AttachedVolumes } from './components/VmVolumes.tsx';
import { canDeleteImage, canToggleVisibility, ImageTable } from './pages/Images.tsx';
import { PoolTable } from './pages/StoragePools.tsx';
import { VolumeTable } from './pages/Volumes.tsx';
import {
  attachable,
  bytes,
  hostsSeeing,
  shortSha,
  uploadPercent,
  volumeActions,
  volumeCreateBody,
  volumesOf,
} from './storage-model.ts';

const SHA = 'a3f1c2d4e5b60718293a4b5c6d7e8f90112233445566778899aabbccddeeff00';
const image = (name: string, o: Partial<Image> = {}): Image => ({
  id: `id-${name}`,
  name,
  format: 'qcow2',
  sizeMiB: 8,
  visibility: 'private',
  status: 'active',
  tenantId: 't1',
  sha256: SHA,
  sizeBytes: 4_456_448,
  virtualSizeBytes: 8 * 2 ** 20,
  ...o,
});
const volume = (name: string, o: Partial<Volume> = {}): Volume => ({
  id: `vol-${name}`,
  name,
  tenantId: 't1',
  sizeGiB: 2,
  state: 'available',
  pool: 'local',
  poolKind: 'local',
  vmId: null,
  vm: null,
  imageId: null,
  sourceVolumeId: null,
  serial: `s-${name}`,
  createdAt: '2026-01-01T00:00:00Z',
  ...o,
});
const host = (name: string, o: Partial<Host> = {}): Host =>
  ({ id: `h-${name}`, name, zone: 'z1', driver: 'qemu', pools: [], state: 'up', ...o }) as Host;
const me = (role: Me['role'], tenantId = 't1'): Me => ({ userId: 'u', userName: 'u', tenantId, role });

test('bytes in binary units, short checksums and upload percentages', () => {
  assert.equal(bytes(512), '512 B');
  assert.equal(bytes(8 * 2 ** 20), '8 MiB');
  // 4,456,448 B = 4.25 MiB → one decimal
  assert.equal(bytes(4_456_448), '4.3 MiB');
  assert.equal(bytes(3 * 2 ** 40), '3 TiB');
  assert.equal(bytes(null), '—');
  assert.equal(shortSha(SHA), 'a3f1c2d4e5b6');
  assert.equal(shortSha(null), '—');
  assert.equal(uploadPercent(0, 0), 0);
  assert.equal(uploadPercent(1, 3), 33);
  assert.equal(uploadPercent(5, 4), 100, 'never above 100');
});

test('image table: name, format, virtual size, size, visibility, state and short sha256; delete only where allowed', () => {
  const imgs = [
    image('debian-tiny'),
    image('tiny', {
      sha256: null,
      sizeBytes: null,
      virtualSizeBytes: null,
      visibility: 'public',
      tenantId: null,
      sizeMiB: 64,
    }),
  ];
  const html = renderToStaticMarkup(
    <ImageTable images={imgs} deletable={(i) => canDeleteImage(me('member'), i)} onDelete={() => {}} />,
  );
  assert.match(
    html,
    /<tr data-image="debian-tiny"><td>debian-tiny<\/td><td>qcow2<\/td><td>8 MiB<\/td><td>4.3 MiB<\/td><td>private<\/td><td class="st-active">active<\/td><td><code title="a3f1[0-9a-f]+">a3f1c2d4e5b6<\/code><\/td><td><button class="danger">delete<\/button>/,
  );
  // The catalog image: its registered size, no file, no checksum, and a member may not delete it.
  assert.match(
    html,
    /<tr data-image="tiny"><td>tiny<\/td><td>qcow2<\/td><td>64 MiB<\/td><td>—<\/td><td>public<\/td>.*<code title="">—<\/code><\/td><td><\/td><\/tr>/,
  );
  assert.equal(canDeleteImage(me('member', 't2'), image('x')), false, "another tenant's image");
  assert.equal(canDeleteImage(me('operator'), image('x')), false, 'operators read');
  assert.equal(canDeleteImage(me('admin', 't9'), image('tiny', { tenantId: null })), true);
  assert.match(renderToStaticMarkup(<ImageTable images={[]} />), /no images/);
});

test('image table: admins get a public/private toggle on uploaded images, never on catalog ones', () => {
  const imgs = [
    image('mine'),
    image('shared', { visibility: 'public' }),
    image('tiny', { tenantId: null, visibility: 'public' }),
  ];
  const admin = me('admin', 't9');
  const html = renderToStaticMarkup(
    <ImageTable images={imgs} toggleable={(i) => canToggleVisibility(admin, i)} onVisibility={() => {}} />,
  );
  assert.match(
    html,
    /<tr data-image="mine">.*<td>private <button class="secondary" data-testid="image-visibility">make public<\/button><\/td>/,
  );
  assert.match(
    html,
    /<tr data-image="shared">.*<td>public <button class="secondary" data-testid="image-visibility">make private<\/button><\/td>/,
  );
  assert.match(html, /<tr data-image="tiny">.*<td>public<\/td>/);
  assert.equal(canToggleVisibility(me('member'), image('x')), false, 'members: the CLI or API');
  assert.equal(canToggleVisibility(me('operator'), image('x')), false);
});

test('volume table: size, pool and kind, state and the VM it is attached to (linked); hosts for operators only', () => {
  const vols = [
    volume('data-1', { state: 'in-use', vmId: 'vm-9', vm: 'db-1', hostId: 'h-a' }),
    volume('data-2'),
  ];
  const html = renderToStaticMarkup(<VolumeTable volumes={vols} />);
  assert.match(
    html,
    /<tr data-volume="data-1"><td><a href="#\/volumes\/vol-data-1">data-1<\/a><\/td><td>2 GiB<\/td><td>local<span class="muted"> \(local\)<\/span><\/td><td class="st-in-use">in-use<\/td><td><a href="#\/vms\/vm-9">db-1<\/a><\/td><\/tr>/,
  );
  assert.match(html, /<tr data-volume="data-2">.*<td class="st-available">available<\/td><td>—<\/td><\/tr>/);
  assert.doesNotMatch(html, /h-a/);
  assert.match(
    renderToStaticMarkup(<VolumeTable volumes={vols} showHost />),
    /<th>host<\/th>.*<td>h-a<\/td>/,
  );
  assert.match(
    renderToStaticMarkup(<VolumeTable volumes={vols} showHost hostNames={{ 'h-a': 'host-a' }} />),
    /<td>host-a<\/td>/,
  );
});

test("volume helpers: the create body per source, what a state allows, a VM's volumes and the attachable ones", () => {
  const f = { name: ' data-3 ', sizeGiB: '4', pool: '', source: 'empty' as const, from: 'x' };
  assert.deepEqual(volumeCreateBody(f), { name: 'data-3', sizeGiB: 4 });
  assert.deepEqual(volumeCreateBody({ ...f, pool: 'nas', source: 'image', from: 'debian-tiny' }), {
    name: 'data-3',
    sizeGiB: 4,
    pool: 'nas',
    fromImage: 'debian-tiny',
  });
  assert.deepEqual(volumeCreateBody({ ...f, source: 'volume', from: 'vol-1' }).fromVolume, 'vol-1');
  assert.deepEqual(volumeCreateBody({ ...f, source: 'snapshot', from: 'snap-1' }).fromSnapshot, 'snap-1');
  assert.deepEqual(volumeCreateBody({ ...f, source: 'image', from: ' ' }), { name: 'data-3', sizeGiB: 4 });

  assert.deepEqual(volumeActions({ state: 'available', vmId: null }), ['attach', 'delete']);
  assert.deepEqual(volumeActions({ state: 'in-use', vmId: 'v' }), ['detach']);
  assert.deepEqual(volumeActions({ state: 'attaching', vmId: 'v' }), []);
  assert.deepEqual(volumeActions({ state: 'error', vmId: null }), ['delete']);

  const vols = [
    volume('b', { vmId: 'vm-1', state: 'in-use' }),
    volume('a', { vmId: 'vm-1', state: 'in-use' }),
    volume('c', { vmId: 'vm-2', state: 'in-use' }),
    volume('e'),
    volume('d', { state: 'creating' }),
  ];
  assert.deepEqual(
    volumesOf('vm-1', vols).map((v) => v.name),
    ['a', 'b'],
  );
  assert.deepEqual(
    attachable(vols).map((v) => v.name),
    ['e'],
  );
  const table = renderToStaticMarkup(
    <AttachedVolumes volumes={volumesOf('vm-1', vols)} onDetach={() => {}} />,
  );
  assert.equal(table.match(/>detach</g)?.length, 2);
  assert.match(table, /<code>virtio-s-a<\/code>/);
  assert.doesNotMatch(renderToStaticMarkup(<AttachedVolumes volumes={volumesOf('vm-1', vols)} />), /detach/);
});

test('pool table: kind, zone and the hosts that see each pool (declared, or simulated hosts of its zone)', () => {
  const pools: StoragePool[] = [
    { id: 'p1', name: 'nas', kind: 'shared', zone: 'z1' },
    { id: 'p2', name: 'local', kind: 'local', zone: null },
    { id: 'p3', name: 'far', kind: 'shared', zone: 'z9' },
  ];
  const hosts = [
    host('host-b', { pools: ['nas'] }),
    host('host-a', { pools: ['nas', 'local'] }),
    host('sim-010', { driver: 'sim' }),
    host('sim-002', { driver: 'sim', zone: 'z2' }),
    host('host-c'),
  ];
  assert.deepEqual(hostsSeeing(pools[0]!, hosts), ['host-a', 'host-b', 'sim-010']);
  assert.deepEqual(hostsSeeing(pools[1]!, hosts), ['host-a', 'sim-002', 'sim-010']);
  assert.deepEqual(hostsSeeing(pools[2]!, hosts), []);
  const html = renderToStaticMarkup(<PoolTable pools={pools} hosts={hosts} />);
  assert.match(
    html,
    /<tr data-pool="nas"><td>nas<\/td><td>shared<\/td><td>z1<\/td><td>host-a, host-b, sim-010<\/td><\/tr>/,
  );
  assert.match(html, /<tr data-pool="local"><td>local<\/td><td>local<\/td><td>every zone<\/td>/);
  assert.match(html, /<tr data-pool="far">.*<span class="error">none<\/span>/);
});
