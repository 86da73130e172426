/**
 * nftables scripts for a host's network state (pure: text in, text out; applied with `nft -f -`, one
 * atomic transaction each, so rules change without touching running guests).
 *
 * - `bridge nubis`: port security (from a tap only its MAC, its IPs, DHCP from 0.0.0.0, ARP about its
 *   IPs) and the distributed router's isolation (the gateway's MAC, ARP for the gateway and DHCP never
 *   cross a VXLAN port); it also marks each frame with the ports it comes from / goes to.
 * - `inet nubis`: security groups. br_netfilter sends bridged IPv4 through the inet forward hook, where
 *   conntrack works (the bridge family has none here); nft there cannot see the bridge port
 *   (iptables' physdev has no nft equivalent), so the bridge chain's mark carries it: low 16 bits =
 *   source port's index, high 16 bits = destination port's index.
 * - `ip nubis` in a network's namespace: 1:1 NAT of floating IPs.
 */
import type { NetworkPlumbing, PortPlumbing, PortRule } from '../../core/network/host-network.ts';
import { netNames } from './net-state.ts';

/** Addresses always allowed from a port to the metadata service. */
export const METADATA_IP = '169.254.169.254';

const set = (xs: string[]) => `{ ${xs.join(', ')} }`;
const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;

function ruleMatch(r: PortRule): string | null {
  if (!r.remoteCidrs.length) return null;
  const addr = `ip ${r.direction === 'ingress' ? 'saddr' : 'daddr'} ${set(r.remoteCidrs)}`;
  if (r.protocol === 'any') return `${addr}`;
  if (r.protocol === 'icmp') return `${addr} ip protocol icmp`;
  const ports = r.portMin === null ? '' : ` ${r.protocol} dport ${r.portMin}-${r.portMax}`;
  return `${addr} meta l4proto ${r.protocol}${ports}`;
}

/** The host namespace's tables (bridge and inet), replaced whole in one transaction. */
export function hostRuleset(networks: NetworkPlumbing[], ports: PortPlumbing[], underlayIp: string): string {
  const out: string[] = [];
  const br: string[] = ['    meta mark set 0'];
  for (const n of networks) {
    const nm = netNames(n.vni, underlayIp);
    const vx = `"${nm.vxlan}"`;
    for (const dir of ['iifname', 'oifname']) {
      br.push(`    ${dir} ${vx} ether saddr ${nm.gwMac} drop`);
      br.push(`    ${dir} ${vx} ether daddr ${nm.gwMac} drop`);
      if (n.gatewayIp) br.push(`    ${dir} ${vx} arp daddr ip ${n.gatewayIp} drop`);
      br.push(`    ${dir} ${vx} ether type ip udp dport { 67, 68 } drop`);
      br.push(`    ${dir} ${vx} ip daddr ${METADATA_IP} drop`);
    }
  }
  const inet: string[] = [];
  const egressMap: string[] = [];
  const ingressMap: string[] = [];
  ports.forEach((p, i) => {
    const k = i + 1;
    const tap = `"${p.tap}"`;
    br.push(`    iifname ${tap} jump ps_${k}`);
    br.push(`    iifname ${tap} meta mark set meta mark | ${hex(k)}`);
    br.push(`    oifname ${tap} meta mark set meta mark | ${hex(k << 16)}`);
    egressMap.push(`${hex(k)} : jump eg_${k}`);
    ingressMap.push(`${hex((k << 16) >>> 0)} : jump in_${k}`);
    inet.push(
      `  chain eg_${k} {`,
      `    udp sport 68 udp dport 67 return`,
      `    ip daddr ${METADATA_IP} tcp dport 80 return`,
      ...p.rules
        .filter((r) => r.direction === 'egress')
        .flatMap((r) => {
          const m = ruleMatch(r);
          return m ? [`    ${m} return`] : [];
        }),
      `    drop`,
      `  }`,
      `  chain in_${k} {`,
      `    udp sport 67 udp dport 68 accept`,
      ...p.rules
        .filter((r) => r.direction === 'ingress')
        .flatMap((r) => {
          const m = ruleMatch(r);
          return m ? [`    ${m} accept`] : [];
        }),
      `    drop`,
      `  }`,
    );
  });
  const ps = ports.flatMap((p, i) => [
    `  chain ps_${i + 1} {`,
    `    ether saddr != ${p.mac} drop`,
    `    ether type arp arp saddr ether != ${p.mac} drop`,
    `    ether type arp arp saddr ip != ${set(p.ips)} drop`,
    `    ether type arp return`,
    `    ether type ip ip saddr ${set(p.ips)} return`,
    `    ether type ip ip saddr 0.0.0.0 udp sport 68 udp dport 67 return`,
    `    drop`,
    `  }`,
  ]);
  out.push(
    'table bridge nubis {}',
    'delete table bridge nubis',
    'table bridge nubis {',
    ...ps,
    '  chain forward {',
    '    type filter hook forward priority -200; policy accept;',
    ...br,
    '  }',
    '}',
    'table inet nubis {}',
    'delete table inet nubis',
    'table inet nubis {',
    ...inet,
    '  chain forward {',
    '    type filter hook forward priority 0; policy accept;',
    '    ct state established,related accept',
    ...(ports.length
      ? [
          `    meta mark & 0x0000ffff vmap { ${egressMap.join(', ')} }`,
          `    meta mark & 0xffff0000 vmap { ${ingressMap.join(', ')} }`,
        ]
      : []),
    '  }',
    '  chain input {',
    '    type filter hook input priority 0; policy accept;',
    // Nothing from a network's namespace reaches this host's own services (the agent, ssh...).
    '    iifname "nf*" drop',
    '  }',
    '}',
  );
  return out.join('\n') + '\n';
}

/** A network namespace's NAT table: each active floating IP ↔ its port's first fixed IP. */
export function namespaceRuleset(fips: { floatingIp: string; fixedIp: string }[]): string {
  const pre = fips.map((f) => `    ip daddr ${f.floatingIp} dnat to ${f.fixedIp}`);
  const post = fips.map((f) => `    oifname "ext" ip saddr ${f.fixedIp} snat to ${f.floatingIp}`);
  const fixed = fips.map((f) => f.fixedIp);
  return (
    [
      'table ip nubis {}',
      'delete table ip nubis',
      'table ip nubis {',
      '  chain prerouting {',
      '    type nat hook prerouting priority -100; policy accept;',
      ...pre,
      '  }',
      '  chain postrouting {',
      '    type nat hook postrouting priority 100; policy accept;',
      ...post,
      '  }',
      '  chain forward {',
      '    type filter hook forward priority 0; policy accept;',
      // Only ports with a floating IP (and answers to what came in through one) leave for the outside.
      ...(fixed.length ? [`    oifname "ext" ip saddr ${set(fixed)} accept`] : []),
      '    oifname "ext" drop',
      '  }',
      '}',
    ].join('\n') + '\n'
  );
}
