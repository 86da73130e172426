/**
 * The OpenStack network service (Neutron v2.0, docs/openstack.md): versions, extensions, networks,
 * subnets, ports, security groups and their rules, each a translation of nubis's network model.
 */
import type { FastifyInstance } from 'fastify';
import { OsError, osBase, osPrincipal, type OsDeps } from '../frame.ts';
import { registerNeutronNetworks } from './networks.ts';
import { registerNeutronPorts } from './ports.ts';
import { registerNeutronSecurityGroups } from './security-groups.ts';

/** The extensions nubis's Neutron has (https://docs.openstack.org/api-ref/network/v2/#extensions). */
export const NEUTRON_EXTENSIONS = [
  ['security-group', 'security-group', 'The security groups extension.'],
  ['project-id', 'project_id field enabled', 'Extension that indicates that project_id field is enabled.'],
  [
    'standard-attr-description',
    'standard-attr-description',
    'Extension to add descriptions to standard attributes',
  ],
  [
    'standard-attr-timestamp',
    'Resource timestamps',
    'Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes.',
  ],
  [
    'standard-attr-revisions',
    'Resource revision numbers',
    'This extension will display the revision number of neutron resources.',
  ],
  ['net-mtu', 'Network MTU', 'Provides MTU attribute for a network resource.'],
].map(([alias, name, description]) => ({
  alias,
  name,
  description,
  updated: '2016-01-01T00:00:00-00:00',
  links: [],
}));

const RESOURCES = ['networks', 'subnets', 'ports', 'security-groups', 'security-group-rules'];

/** Register the network service's routes (paths relative to its prefix, see SERVICE_PATHS). */
export function registerNetwork(s: FastifyInstance, deps: OsDeps): void {
  const { cp, opts } = deps;
  s.get('/', async (req) => {
    const base = `${osBase(req, opts)}/network`;
    return { versions: [{ id: 'v2.0', status: 'CURRENT', links: [{ rel: 'self', href: `${base}/v2.0/` }] }] };
  });
  for (const path of ['/v2.0', '/v2.0/'])
    s.get(path, async (req) => {
      const base = `${osBase(req, opts)}/network/v2.0`;
      return {
        resources: RESOURCES.map((r) => ({
          name: r.replace(/s$/, '').replace(/-/g, '_'),
          collection: r.replace(/-/g, '_'),
          links: [{ rel: 'self', href: `${base}/${r}` }],
        })),
      };
    });
  s.get('/v2.0/extensions', async (req) => {
    await osPrincipal(cp, req);
    return { extensions: NEUTRON_EXTENSIONS };
  });
  s.get<{ Params: { alias: string } }>('/v2.0/extensions/:alias', async (req) => {
    await osPrincipal(cp, req);
    const e = NEUTRON_EXTENSIONS.find((x) => x.alias === req.params.alias);
    if (!e) throw new OsError(404, `Extension with alias ${req.params.alias} does not exist`);
    return { extension: e };
  });
  registerNeutronNetworks(s, deps);
  registerNeutronPorts(s, deps);
  registerNeutronSecurityGroups(s, deps);
}
