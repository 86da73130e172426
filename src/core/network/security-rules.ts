/**
 * Security groups compiled into the per-port allow-list of the host contract: each rule of each of
 * a port's groups becomes one `PortRule`, a remote group expanded to the /32 of every address of its
 * member ports (as Neutron's iptables/OVS firewall drivers expand `remote_group_id`). Pure.
 */
import type { PortRule } from './host-network.ts';

/** A security-group rule as stored. */
export interface SecurityRuleRow {
  groupId: string;
  direction: 'ingress' | 'egress';
  protocol: 'tcp' | 'udp' | 'icmp' | 'any';
  portMin: number | null;
  portMax: number | null;
  /** Exactly one of remoteCidr and remoteGroupId is set. */
  remoteCidr: string | null;
  remoteGroupId: string | null;
}

/** What compilation needs to know about a port: its groups and addresses. */
export interface PortGroups {
  id: string;
  ips: string[];
  securityGroupIds: string[];
}

/** The addresses of the members of each group (the ports that have it), as /32s, sorted. */
export function groupMembers(ports: readonly PortGroups[]): Map<string, string[]> {
  const m = new Map<string, Set<string>>();
  for (const p of ports)
    for (const g of p.securityGroupIds) {
      const s = m.get(g) ?? new Set<string>();
      for (const ip of p.ips) s.add(`${ip}/32`);
      m.set(g, s);
    }
  return new Map([...m].map(([g, s]) => [g, [...s].sort()]));
}

/**
 * The `PortRule[]` of a port: the rules of its groups, in group then rule order, remote groups
 * expanded with `members` (a group with no member addresses gives a rule that matches nothing).
 * Identical compiled rules are kept once.
 */
export function compilePortRules(
  port: Pick<PortGroups, 'securityGroupIds'>,
  rules: readonly SecurityRuleRow[],
  members: ReadonlyMap<string, readonly string[]>,
): PortRule[] {
  const out: PortRule[] = [];
  const seen = new Set<string>();
  for (const g of port.securityGroupIds)
    for (const r of rules) {
      if (r.groupId !== g) continue;
      const ports = r.protocol === 'tcp' || r.protocol === 'udp';
      const rule: PortRule = {
        direction: r.direction,
        protocol: r.protocol,
        portMin: ports ? r.portMin : null,
        portMax: ports ? (r.portMax ?? r.portMin) : null,
        remoteCidrs:
          r.remoteGroupId !== null
            ? [...(members.get(r.remoteGroupId) ?? [])]
            : [r.remoteCidr ?? '0.0.0.0/0'],
      };
      const k = JSON.stringify(rule);
      if (!seen.has(k)) {
        seen.add(k);
        out.push(rule);
      }
    }
  return out;
}
