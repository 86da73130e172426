/** Nova's version documents, flavors and key pairs (src/api/openstack/compute/), checked with Tempest's schemas. */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, test } from 'node:test';
import { novaPlane } from './helpers/nova.ts';
import { TEMPEST_SKIP, tempestCheck } from './helpers/tempest-schema.ts';

let t: Awaited<ReturnType<typeof novaPlane>>;
before(async () => {
  t = await novaPlane();
});
after(() => t.close());

const ok = (schema: string, r: { status: number; body: unknown; headers: Record<string, string> }) =>
  assert.deepEqual(
    tempestCheck([{ schema, status: r.status, body: r.body, headers: r.headers }]),
    [null],
    schema,
  );

test(
  'the version list answers without a token, v2.0 first, and each self link resolves to its document',
  { skip: TEMPEST_SKIP },
  async () => {
    const list = await t.nova(undefined, 'GET', '/');
    ok('compute.v2_1.versions.list_versions', list);
    assert.deepEqual(
      list.body.versions.map((v: { id: string }) => v.id),
      ['v2.0', 'v2.1'],
    );
    for (const v of list.body.versions) {
      const path = new URL(v.links[0].href).pathname.replace('/openstack/compute', '');
      const one = await t.nova(undefined, 'GET', path);
      ok('compute.v2_1.versions.get_one_version', one);
      assert.equal(one.body.version.id, v.id);
      assert.equal(one.body.version.links[0].href, v.links[0].href);
    }
    const v21 = await t.nova(undefined, 'GET', '/v2.1');
    assert.equal(v21.body.version.version, '2.30');
    assert.equal(v21.body.version.min_version, '2.1');
  },
);

test(
  'flavors list, detail and show follow the schema; filters, marker and limit work',
  { skip: TEMPEST_SKIP },
  async () => {
    assert.equal((await t.nova(undefined, 'GET', '/v2.1/flavors')).status, 401);
    const list = await t.nova(t.member, 'GET', '/v2.1/flavors');
    ok('compute.v2_1.flavors.list_flavors', list);
    const detail = await t.nova(t.member, 'GET', '/v2.1/flavors/detail?is_public=True', undefined, 30);
    ok('compute.v2_1.flavors.list_flavors_details', detail);
    const ids = detail.body.flavors.map((f: { id: string }) => f.id);
    assert.deepEqual(ids, [...ids].sort());
    assert.ok(ids.length >= 2);
    const first = detail.body.flavors[0];
    const show = await t.nova(t.member, 'GET', `/v2.1/flavors/${first.id}`);
    ok('compute.v2_1.flavors.create_update_get_flavor_details', show);
    assert.deepEqual(show.body.flavor, first);
    ok(
      'compute.v2_1.flavors_extra_specs.set_get_flavor_extra_specs',
      await t.nova(t.member, 'GET', `/v2.1/flavors/${first.id}/os-extra_specs`),
    );
    assert.equal((await t.nova(t.member, 'GET', '/v2.1/flavors/m1.nothing')).status, 404);
    const big = Math.max(...detail.body.flavors.map((f: { ram: number }) => f.ram));
    const minRam = await t.nova(t.member, 'GET', `/v2.1/flavors/detail?minRam=${big}`);
    assert.ok(minRam.body.flavors.every((f: { ram: number }) => f.ram >= big));
    assert.ok(minRam.body.flavors.length < ids.length);
    const limited = await t.nova(t.member, 'GET', '/v2.1/flavors?limit=1');
    ok('compute.v2_1.flavors.list_flavors', limited);
    assert.equal(limited.body.flavors.length, 1);
    const rest = await t.nova(t.member, 'GET', `/v2.1/flavors?marker=${ids[0]}`);
    assert.deepEqual(
      rest.body.flavors.map((f: { id: string }) => f.id),
      ids.slice(1),
    );
    assert.equal((await t.nova(t.member, 'GET', '/v2.1/flavors?marker=nope')).status, 400);
  },
);

test(
  'key pairs: generated and imported, per user, with 2.1 and 2.2 codes and shapes',
  { skip: TEMPEST_SKIP },
  async () => {
    const gen = await t.nova(t.member, 'POST', '/v2.1/os-keypairs', { keypair: { name: 'gen-1' } });
    ok('compute.v2_1.keypairs.create_keypair', gen);
    assert.match(gen.body.keypair.private_key, /BEGIN RSA PRIVATE KEY/);
    assert.match(gen.body.keypair.fingerprint, /^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
    const pub = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB6Z6sMmq0Nk8B0yB8bbqfqs3jwZl2t6xS6cZ1tHqXHi me@host\n';
    const imp = await t.nova(
      t.member,
      'POST',
      '/v2.1/os-keypairs',
      { keypair: { name: 'imp', public_key: pub } },
      2,
    );
    ok('compute.v2_2.keypairs.create_keypair', imp);
    assert.equal(imp.body.keypair.type, 'ssh');
    assert.equal(imp.body.keypair.private_key, undefined);
    assert.equal(imp.body.keypair.user_id, t.memberId);
    ok('compute.v2_1.keypairs.list_keypairs', await t.nova(t.member, 'GET', '/v2.1/os-keypairs'));
    const l22 = await t.nova(t.member, 'GET', '/v2.1/os-keypairs', undefined, 2);
    ok('compute.v2_2.keypairs.list_keypairs', l22);
    assert.deepEqual(
      l22.body.keypairs.map((k: { keypair: { name: string } }) => k.keypair.name),
      ['gen-1', 'imp'],
    );
    ok('compute.v2_1.keypairs.get_keypair', await t.nova(t.member, 'GET', '/v2.1/os-keypairs/imp'));
    const show = await t.nova(t.member, 'GET', '/v2.1/os-keypairs/imp', undefined, 2);
    ok('compute.v2_2.keypairs.get_keypair', show);
    assert.equal(show.body.keypair.fingerprint, imp.body.keypair.fingerprint);
    // The admin (another user) does not see the member's pairs unless it names the user (2.10).
    assert.equal((await t.nova(t.adminToken, 'GET', '/v2.1/os-keypairs/imp')).status, 404);
    const adm = await t.nova(t.adminToken, 'GET', `/v2.1/os-keypairs?user_id=${t.memberId}`, undefined, 10);
    assert.equal(adm.body.keypairs.length, 2);
    const forUser = await t.nova(
      t.adminToken,
      'POST',
      '/v2.1/os-keypairs',
      { keypair: { name: 'by-admin', type: 'ssh', user_id: t.memberId } },
      10,
    );
    ok('compute.v2_2.keypairs.create_keypair', forUser);
    assert.equal(forUser.body.keypair.user_id, t.memberId);
    assert.equal(
      (
        await t.nova(
          t.member,
          'POST',
          '/v2.1/os-keypairs',
          { keypair: { name: 'x', user_id: 'someone' } },
          10,
        )
      ).status,
      403,
    );
    const x509 = await t.nova(
      t.member,
      'POST',
      '/v2.1/os-keypairs',
      { keypair: { name: 'cert', type: 'x509' } },
      2,
    );
    ok('compute.v2_2.keypairs.create_keypair', x509);
    assert.equal(x509.body.keypair.type, 'x509');
    assert.match(x509.body.keypair.public_key, /^-----BEGIN CERTIFICATE-----/);
    assert.equal(new X509Certificate(x509.body.keypair.public_key).subject, `CN=${t.memberId}`);
    assert.equal(
      (await t.nova(t.member, 'GET', '/v2.1/os-keypairs/cert', undefined, 2)).body.keypair.type,
      'x509',
    );
    // Refusals: duplicate 409, bad names and keys 400.
    assert.equal(
      (await t.nova(t.member, 'POST', '/v2.1/os-keypairs', { keypair: { name: 'imp', public_key: pub } }))
        .status,
      409,
    );
    for (const name of ['', 'a'.repeat(256), 'bad/name', '   '])
      assert.equal(
        (await t.nova(t.member, 'POST', '/v2.1/os-keypairs', { keypair: { name } })).status,
        400,
        name,
      );
    for (const public_key of ['ssh-rsa JUNK nova@ubuntu', ' ', 'ssh-rsa ' + 'A'.repeat(2048) + ' x'])
      assert.equal(
        (await t.nova(t.member, 'POST', '/v2.1/os-keypairs', { keypair: { name: 'k', public_key } })).status,
        400,
      );
    assert.equal((await t.nova(t.member, 'DELETE', '/v2.1/os-keypairs/gen-1')).status, 202);
    const del = await t.nova(t.member, 'DELETE', '/v2.1/os-keypairs/imp', undefined, 2);
    assert.equal(del.status, 204);
    assert.equal(del.body, undefined);
    assert.equal((await t.nova(t.member, 'DELETE', '/v2.1/os-keypairs/imp', undefined, 2)).status, 404);
  },
);
