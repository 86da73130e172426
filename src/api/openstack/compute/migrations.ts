/**
 * Nova's `/os-migrations` (admin): nubis's live migrations (`cp.operations.listMigrations`), newest
 * first; `?instance_uuid=`, `status`, `host` and `migration_type` filter. Status: running, completed,
 * completed (nubis's succeeded), error (failed). 2.23 adds `migration_type` (`live-migration`) and, while one runs, its
 * links. Source: https://docs.openstack.org/api-ref/compute/#migrations-os-migrations
 */
import type { FastifyInstance } from 'fastify';
import { osBase, osPrincipal, type OsDeps } from '../frame.ts';
import { novaIntId, novaTime, queryOne } from './nova-common.ts';

const STATUS: Record<string, string> = {
  running: 'running',
  succeeded: 'completed',
  completed: 'completed',
  failed: 'error',
};

/** Register `GET /os-migrations`. */
export function registerMigrations(s: FastifyInstance, deps: OsDeps): void {
  const { cp } = deps;
  s.get('/v2.1/os-migrations', async (req) => {
    const p = await osPrincipal(cp, req);
    const minor = req.novaMinor ?? 1;
    const vmId = queryOne(req.query, 'instance_uuid');
    const status = queryOne(req.query, 'status');
    const host = queryOne(req.query, 'host');
    const type = queryOne(req.query, 'migration_type');
    const base = osBase(req, deps.opts);
    const rows = (await cp.operations.listMigrations(p, vmId ? { vmId } : {}))
      .map((m) => ({ ...m, status: STATUS[m.status] ?? m.status }))
      .filter(
        (m) =>
          (status === undefined || m.status === status) &&
          (host === undefined || m.sourceHost === host || m.targetHost === host) &&
          (type === undefined || type === 'live-migration'),
      );
    return {
      migrations: rows.map((m) => {
        const id = novaIntId(m.id);
        return {
          id,
          status: m.status,
          instance_uuid: m.vmId,
          source_compute: m.sourceHost,
          source_node: m.sourceHost,
          dest_compute: m.targetHost,
          dest_node: m.targetHost,
          dest_host: null,
          old_instance_type_id: null,
          new_instance_type_id: null,
          created_at: novaTime(m.createdAt),
          updated_at: novaTime(m.updatedAt),
          ...(minor >= 23
            ? {
                migration_type: 'live-migration',
                ...(m.status === 'running' && m.vmId
                  ? {
                      links: [
                        { rel: 'self', href: `${base}/compute/v2.1/servers/${m.vmId}/migrations/${id}` },
                        { rel: 'bookmark', href: `${base}/compute/servers/${m.vmId}/migrations/${id}` },
                      ],
                    }
                  : {}),
              }
            : {}),
        };
      }),
    };
  });
}
