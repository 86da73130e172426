/**
 * Host-set rules: fence (the VMs run only on the selected hosts; zone and tier pins) and ban (never
 * on them), BtrPlace's `Fence` and `Ban`. Both are continuous: a VM never runs on a host it may not
 * use, not even as the target of a live migration.
 */
import { type ConstraintChecker } from './checker.ts';
import {
  HOST_ATTRIBUTES,
  constraintLabel,
  type BanConstraint,
  type FenceConstraint,
  type HostAttributes,
  type HostSelector,
  type Violation,
} from './model.ts';
import { hostOf, hostsOf, names } from './state.ts';

/** Whether the selector selects the host: its id is listed, or it has every attribute in `where`. */
export function selects(sel: HostSelector, h: HostAttributes): boolean {
  if (sel.hosts?.includes(h.id)) return true;
  const w = sel.where;
  if (!w) return false;
  let any = false;
  for (const k of HOST_ATTRIBUTES) {
    const want = w[k];
    if (want === undefined) continue;
    any = true;
    if (h[k] !== want) return false;
  }
  return any;
}

/** `zone zone-2, tier gpu` or `hosts h1, h2` (ids). */
export function describeSelector(sel: HostSelector): string {
  const parts = HOST_ATTRIBUTES.filter((k) => sel.where?.[k] !== undefined).map(
    (k) => `${k} ${sel.where![k]}`,
  );
  if (sel.hosts?.length) parts.push(`host${sel.hosts.length > 1 ? 's' : ''} ${sel.hosts.join(', ')}`);
  return parts.join(', ') || 'no host';
}

/** Why a host is outside a fence: the first attribute that differs (the old zone/tier wording). */
function outside(sel: HostSelector, h: HostAttributes): string {
  const k = HOST_ATTRIBUTES.find((a) => sel.where?.[a] !== undefined && h[a] !== sel.where[a]);
  if (k && !sel.hosts?.length) return `${h.name} is in ${k} ${h[k] ?? 'none'}, VM asks for ${sel.where![k]}`;
  return `${h.name} is not one of ${describeSelector(sel)}`;
}

function hostSetChecker(c: FenceConstraint | BanConstraint): ConstraintChecker {
  const label = constraintLabel(c);
  const fence = c.type === 'fence';
  const breaks = (h: HostAttributes) => selects(c, h) !== fence;
  const message = (vm: string, h: HostAttributes) =>
    fence
      ? `${label} (${vm}): ${outside(c, h)}`
      : `${label} (${vm}): ${h.name} is banned (${describeSelector(c)})`;
  return {
    constraint: c,
    continuous: true,
    check(s) {
      const out: Violation[] = [];
      for (const v of new Set(c.vms))
        for (const id of hostsOf(s, v)) {
          const h = hostOf(s, id);
          if (breaks(h))
            out.push({ constraint: c, vmIds: [v], hostId: id, message: message(names(s, [v]), h) });
        }
      return out;
    },
    admits(s, vmId, hostId) {
      if (!c.vms.includes(vmId)) return undefined;
      const h = hostOf(s, hostId);
      return breaks(h)
        ? { constraint: c, vmIds: [vmId], hostId, message: message(names(s, [vmId]), h) }
        : undefined;
    },
    score(s, vmId, hostId) {
      return c.vms.includes(vmId) && breaks(hostOf(s, hostId)) ? 0 : 1;
    },
  };
}

/** Checker of a fence: the VMs run only on the selected hosts. */
export const fenceChecker = (c: FenceConstraint): ConstraintChecker => hostSetChecker(c);
/** Checker of a ban: the VMs never run on the selected hosts. */
export const banChecker = (c: BanConstraint): ConstraintChecker => hostSetChecker(c);
