/**
 * What the agent runs inside a network's namespace, as pure builders: the dnsmasq configuration (static
 * leases only: the ports' MACs → their fixed IPs; unknown MACs get nothing) and the metadata answers
 * (OpenStack and EC2 paths) keyed by the asking port's fixed IP, plus the tiny metadata server that
 * serves them (Neutron's ns-metadata-proxy idea, without the round trip: the agent precomputes the
 * answers into a file the server reads at every request, so it never has to know about ports).
 */
import type { NetworkPlumbing, PortPlumbing } from '../../core/network/host-network.ts';
import { intToIp, ipToInt, parseCidr, prefixMask } from './net-state.ts';

/** The address the network's namespace holds on the bridge: the gateway, or the subnet's last usable one. */
export function serverIp(n: NetworkPlumbing): string {
  if (n.gatewayIp) return n.gatewayIp;
  const c = parseCidr(n.cidr)!;
  return intToIp(c.net + 2 ** (32 - c.prefix) - 2);
}

/** dnsmasq's configuration file for one network (every value comes from a validated state). */
export function dnsmasqConf(n: NetworkPlumbing, dir: string): string {
  const c = parseCidr(n.cidr)!;
  return [
    'port=0',
    'interface=gw',
    'bind-interfaces',
    'except-interface=lo',
    'user=root',
    'dhcp-authoritative',
    'log-dhcp',
    `log-facility=${dir}/dnsmasq.log`,
    `pid-file=${dir}/dnsmasq.pid`,
    `dhcp-leasefile=${dir}/dnsmasq.leases`,
    `dhcp-hostsfile=${dir}/dhcp-hosts`,
    `dhcp-range=${intToIp(c.net)},static,${prefixMask(c.prefix)},12h`,
    n.gatewayIp ? `dhcp-option=option:router,${n.gatewayIp}` : 'dhcp-option=option:router',
    n.dnsServers.length
      ? `dhcp-option=option:dns-server,${n.dnsServers.join(',')}`
      : 'dhcp-option=option:dns-server',
    `dhcp-option=option:mtu,${n.mtu}`,
    // Without a router, the metadata service is reached through a classless static route (RFC 3442).
    ...(n.gatewayIp ? [] : [`dhcp-option=option:classless-static-route,169.254.169.254/32,${serverIp(n)}`]),
    '',
  ].join('\n');
}

/** dnsmasq's static leases: `MAC,IP` per port of the network. */
export function dhcpHosts(ports: PortPlumbing[]): string {
  return ports.map((p) => `${p.mac},${p.ips[0]}\n`).join('');
}

/** Every path the metadata service answers a port, with its body. */
export function metadataAnswers(p: PortPlumbing): Record<string, string> {
  const m = p.metadata;
  const keys = Object.entries(m.publicKeys).sort(([a], [b]) => (a < b ? -1 : 1));
  const meta = {
    uuid: m.instanceId,
    name: m.hostname,
    hostname: m.hostname,
    public_keys: Object.fromEntries(keys),
    availability_zone: m.availabilityZone ?? 'nova',
    launch_index: 0,
  };
  const a: Record<string, string> = {
    '/openstack/latest/meta_data.json': JSON.stringify(meta),
    '/openstack/latest/network_data.json': JSON.stringify({ links: [], networks: [], services: [] }),
    '/latest/meta-data/instance-id': m.instanceId,
    '/latest/meta-data/hostname': m.hostname,
    '/latest/meta-data/local-hostname': m.hostname,
    '/latest/meta-data/local-ipv4': p.ips[0]!,
    '/latest/meta-data/public-keys/': keys.map(([k], i) => `${i}=${k}`).join('\n'),
    '/latest/meta-data/placement/availability-zone': m.availabilityZone ?? 'nova',
  };
  if (p.floatingIp) a['/latest/meta-data/public-ipv4'] = p.floatingIp;
  a['/latest/meta-data/'] = Object.keys(a)
    .filter((k) => k.startsWith('/latest/meta-data/') && k !== '/latest/meta-data/')
    .map((k) => k.slice('/latest/meta-data/'.length).split('/')[0]! + (k.endsWith('/') ? '/' : ''))
    .filter((k, i, xs) => xs.indexOf(k) === i)
    .join('\n');
  keys.forEach(([, key], i) => {
    a[`/latest/meta-data/public-keys/${i}/`] = 'openssh-key';
    a[`/latest/meta-data/public-keys/${i}/openssh-key`] = key;
  });
  if (m.userData !== null) {
    a['/openstack/latest/user_data'] = m.userData;
    a['/latest/user-data'] = m.userData;
  }
  a['/openstack/latest/'] = 'meta_data.json\nnetwork_data.json' + (m.userData !== null ? '\nuser_data' : '');
  return a;
}

/** The answers file of a network: fixed IP → path → body (only this network's ports). */
export function metadataFile(ports: PortPlumbing[]): Record<string, Record<string, string>> {
  return Object.fromEntries(ports.flatMap((p) => p.ips.map((ip) => [ip, metadataAnswers(p)] as const)));
}

/** Sorts addresses numerically (stable files, so unchanged states write identical files). */
export function sortIps(ips: string[]): string[] {
  return [...ips].sort((a, b) => ipToInt(a) - ipToInt(b));
}

/**
 * The metadata server, run with `node -e` inside the namespace: argv = answers file, pid file. It
 * answers GET/HEAD from the request's source address only (port security makes it the port's own);
 * anyone else, any other path: 404. A constant: nothing from a request or a state becomes code.
 */
export const METADATA_SERVER_JS = `
const http = require('node:http'), fs = require('node:fs');
const [file, pidFile] = process.argv.slice(1);
fs.writeFileSync(pidFile, String(process.pid));
http.createServer((req, res) => {
  let body;
  try {
    const ip = (req.socket.remoteAddress || '').replace(/^::ffff:/, '');
    const path = decodeURIComponent((req.url || '/').split('?')[0]);
    const a = JSON.parse(fs.readFileSync(file, 'utf8'))[ip];
    body = a && Object.prototype.hasOwnProperty.call(a, path) ? a[path] : undefined;
  } catch { body = undefined; }
  if (req.method !== 'GET' && req.method !== 'HEAD') { res.writeHead(405); return res.end(); }
  if (body === undefined) { res.writeHead(404, { 'content-type': 'text/plain' }); return res.end('Not Found\\n'); }
  res.writeHead(200, { 'content-type': path_type(req.url) });
  res.end(req.method === 'HEAD' ? undefined : body);
}).listen(80, '169.254.169.254');
function path_type(u) { return /\\.json(\\?|$)/.test(u || '') ? 'application/json' : 'text/plain'; }
`;
