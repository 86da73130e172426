/** Nova's servers: `/v2.1/servers…` (docs/openstack.md); each part in its own `server-*.ts`. */
import type { FastifyInstance } from 'fastify';
import type { OsDeps } from '../frame.ts';
import { registerServerActions } from './server-actions.ts';
import { registerServerCreate } from './server-create.ts';
import { registerServerCrud } from './server-crud.ts';
import { registerServerIps } from './server-ips.ts';
import { registerServerMetadata } from './server-metadata.ts';
import { registerServerPassword } from './server-password.ts';
import { registerServerTags } from './server-tags.ts';
import { registerServerVolumes } from './server-volumes.ts';

/** Register the servers' routes: create, list, show, update, delete, actions, IPs, volume attachments, metadata, tags, password. */
export function registerServers(s: FastifyInstance, deps: OsDeps): void {
  registerServerCreate(s, deps);
  registerServerCrud(s, deps);
  registerServerActions(s, deps);
  registerServerIps(s, deps);
  registerServerVolumes(s, deps);
  registerServerMetadata(s, deps);
  registerServerTags(s, deps);
  registerServerPassword(s, deps);
}
