/**
 * Nova's key pairs (`/os-keypairs`), per user, over nubis's key pairs (`cp.keypairs`): import a
 * public key, or have one generated (RSA 2048, private key returned once, never kept; with 2.2's
 * `type: x509` a self-signed certificate, ./x509-keypair.ts); 2.2 adds
 * `type` (create 201, delete 204), 2.10 an admin's `user_id`. The fingerprint is Nova's: MD5 of the
 * key blob in colon hex. Source: https://docs.openstack.org/api-ref/compute/#keypairs-keypairs
 */
import { createHash, generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseSshPublicKey } from '../../../core/network/ssh-key.ts';
import { OsError, osPrincipal, type OsDeps } from '../frame.ts';
import { bodyObject, novaIntId, novaTime, queryOne } from './nova-common.ts';
import { generateX509Keypair } from './x509-keypair.ts';

type NubisKeypair = {
  id: string;
  userId: string;
  name: string;
  publicKey: string;
  fingerprint: string;
  type: string;
  createdAt: string;
};

const generate = promisify(generateKeyPair);

/** An SSH wire-format string or mpint (RFC 4251 §5): a uint32 length then the bytes. */
function sshField(b: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}

/** A big-endian unsigned integer as an SSH mpint (a leading zero when the top bit is set). */
function mpint(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const v = b.subarray(i);
  return sshField(v[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
}

/** A new RSA 2048 key pair: the OpenSSH public key line and the PEM (PKCS#1) private key. */
export async function generateSshKeypair(
  comment: string,
): Promise<{ publicKey: string; privateKey: string }> {
  const { publicKey, privateKey } = await generate('rsa', { modulusLength: 2048 });
  const jwk = publicKey.export({ format: 'jwk' });
  const blob = Buffer.concat([
    sshField(Buffer.from('ssh-rsa')),
    mpint(Buffer.from(jwk.e!, 'base64url')),
    mpint(Buffer.from(jwk.n!, 'base64url')),
  ]);
  return {
    publicKey: `ssh-rsa ${blob.toString('base64')} ${comment}`,
    privateKey: privateKey.export({ type: 'pkcs1', format: 'pem' }) as string,
  };
}

/** Nova's fingerprint: MD5 of an SSH key's blob in colon hex (an X.509 certificate's is nubis's SHA-1). */
export function novaFingerprint(k: Pick<NubisKeypair, 'publicKey' | 'fingerprint' | 'type'>): string {
  if (k.type !== 'ssh') return k.fingerprint;
  const parsed = parseSshPublicKey(k.publicKey);
  if (typeof parsed === 'string') return k.fingerprint;
  return createHash('md5')
    .update(parsed.blob)
    .digest('hex')
    .replace(/(..)(?!$)/g, '$1:');
}

/** A key pair name Nova accepts: 1 to 255 of `[A-Za-z0-9 _-]`. */
function checkName(name: unknown): string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9 _-]{1,255}$/.test(name) || !name.trim())
    throw new OsError(
      400,
      'Invalid input for field/attribute name: a key pair name is 1 to 255 letters, digits, spaces, "_" or "-"',
    );
  return name;
}

function userParam(req: FastifyRequest, fromBody?: unknown): string | undefined {
  if ((req.novaMinor ?? 1) < 10) return undefined;
  const u = fromBody ?? queryOne(req.query, 'user_id');
  if (u === undefined || u === null) return undefined;
  if (typeof u !== 'string' || !u) throw new OsError(400, 'Invalid input for field/attribute user_id');
  return u;
}

/** Register `/os-keypairs` and `/os-keypairs/{name}`. */
export function registerKeypairs(s: FastifyInstance, deps: OsDeps): void {
  const { cp } = deps;
  const typed = (req: FastifyRequest, k: NubisKeypair) => ((req.novaMinor ?? 1) >= 2 ? { type: k.type } : {});

  s.post('/v2.1/os-keypairs', async (req, reply) => {
    const p = await osPrincipal(cp, req);
    const b = bodyObject(req.body, 'keypair');
    const name = checkName(b.name);
    const minor = req.novaMinor ?? 1;
    const type = minor >= 2 && b.type !== undefined && b.type !== null ? b.type : 'ssh';
    if (type !== 'ssh' && type !== 'x509')
      throw new OsError(400, `Invalid input for field/attribute type: "${String(type)}" is not ssh or x509`);
    const userId = userParam(req, b.user_id);
    let privateKey: string | undefined;
    let publicKey = b.public_key;
    if (publicKey === undefined || publicKey === null) {
      const g =
        type === 'x509'
          ? await generateX509Keypair(userId ?? p.userId)
          : await generateSshKeypair('Generated-by-Nova');
      publicKey = g.publicKey;
      privateKey = g.privateKey;
    }
    if (typeof publicKey !== 'string')
      throw new OsError(400, 'Invalid input for field/attribute public_key: not a string');
    const k = await cp.keypairs.createKeypair(p, { name, publicKey, type, ...(userId ? { userId } : {}) });
    reply.code(minor >= 2 ? 201 : 200);
    return {
      keypair: {
        name: k.name,
        public_key: k.publicKey,
        fingerprint: novaFingerprint(k),
        user_id: k.userId,
        ...typed(req, k),
        ...(privateKey ? { private_key: privateKey } : {}),
      },
    };
  });

  s.get('/v2.1/os-keypairs', async (req) => {
    const p = await osPrincipal(cp, req);
    const list = await cp.keypairs.listUserKeypairs(p, userParam(req));
    return {
      keypairs: list.map((k) => ({
        keypair: { name: k.name, public_key: k.publicKey, fingerprint: novaFingerprint(k), ...typed(req, k) },
      })),
    };
  });

  s.get<{ Params: { name: string } }>('/v2.1/os-keypairs/:name', async (req) => {
    const p = await osPrincipal(cp, req);
    const k = await cp.keypairs
      .getUserKeypair(p, req.params.name, userParam(req))
      .catch(notFound(req.params.name));
    return {
      keypair: {
        id: novaIntId(k.id),
        name: k.name,
        public_key: k.publicKey,
        fingerprint: novaFingerprint(k),
        user_id: k.userId,
        ...typed(req, k),
        deleted: false,
        created_at: novaTime(k.createdAt),
        updated_at: null,
        deleted_at: null,
      },
    };
  });

  s.delete<{ Params: { name: string } }>('/v2.1/os-keypairs/:name', async (req, reply) => {
    const p = await osPrincipal(cp, req);
    const k = await cp.keypairs
      .getUserKeypair(p, req.params.name, userParam(req))
      .catch(notFound(req.params.name));
    await cp.keypairs.deleteKeypair(p, k.id);
    return reply.code((req.novaMinor ?? 1) >= 2 ? 204 : 202).send();
  });
}

/** Nova's message for a missing key pair (nubis's NOT_FOUND otherwise passes through). */
function notFound(name: string) {
  return (e: unknown): never => {
    if ((e as { code?: string }).code === 'NOT_FOUND')
      throw new OsError(404, `Keypair ${name} not found for user`);
    throw e;
  };
}
