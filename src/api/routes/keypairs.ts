/** Key pairs (OpenSSH public keys of a tenant). */
import { z } from 'zod';
import { listRoute } from '../pagination.ts';
import type { RouteModule } from '../route-def.ts';
import { idParam, name } from '../schemas.ts';

/** /v1/keypairs. */
export const keypairRoutes: RouteModule = (route, { cp }) => {
  listRoute(route, {
    url: '/v1/keypairs',
    summary: "List your tenant's key pairs",
    tag: 'keypairs',
    list: async ({ p }) => cp.keypairs.listKeypairs(p),
  });
  route({
    method: 'POST',
    url: '/v1/keypairs',
    summary: 'Import an OpenSSH public key (ssh-ed25519, ssh-rsa, ecdsa-sha2-*) under a name',
    tag: 'keypairs',
    status: 201,
    body: z.object({ name, publicKey: z.string().min(1).max(16384) }).strict(),
    handler: async ({ p, body }) => cp.keypairs.createKeypair(p, body),
  });
  route({
    method: 'GET',
    url: '/v1/keypairs/:id',
    summary: 'A key pair (its public key and fingerprint)',
    tag: 'keypairs',
    params: idParam,
    handler: async ({ p, params }) => cp.keypairs.getKeypair(p, params.id),
  });
  route({
    method: 'DELETE',
    url: '/v1/keypairs/:id',
    summary: 'Delete a key pair (VMs that have it keep it)',
    tag: 'keypairs',
    status: 204,
    params: idParam,
    handler: async ({ p, params }) => {
      await cp.keypairs.deleteKeypair(p, params.id);
      return undefined;
    },
  });
};
