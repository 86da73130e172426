/**
 * Operator moves ordered into a plan whose every intermediate state has room and keeps the
 * continuous hard constraints (Entropy's cycle breaking, Hermenier et al., VEE 2009). Pure.
 */
import { predictBlockMigration } from '../../models/migration-disk.ts';
import { PlanConstraints } from './plan-constraints.ts';
import { DEFAULT_PLAN_OPTIONS, type PlanAction, type PlanCluster, type PlanVm } from './plan.ts';
import type { Violation } from '../../core/constraints/model.ts';

/** Requested moves that would break a hard constraint: the violation says which and with whom. */
export class MovesBreakConstraint extends RangeError {
  constructor(
    message: string,
    readonly violation: Violation,
  ) {
    super(message);
  }
}

/** A move an operator asks for: VM to host. */
export interface RequestedMove {
  vmId: string;
  to: string;
}

/**
 * Order requested moves: run any move whose target has room and whose continuous hard constraints
 * admit it; when none can run and each waits on another pending move (a cycle, e.g. a swap on two
 * full hosts or of two anti-affine VMs), route one VM of the cycle through a host in its zone with
 * room that the constraints admit, and finish its move later. The end state must keep the discrete
 * constraints (affinity) too.
 * @throws RangeError naming the move and the reason (no room that any move frees, the constraint
 *   and the VMs that refuse it, or no host to route a cycle through)
 */
export function orderMoves(
  c: PlanCluster,
  moves: RequestedMove[],
  o: { bandwidthMbps: number } = DEFAULT_PLAN_OPTIONS,
): PlanAction[] {
  const hosts = new Map(c.hosts.map((h) => [h.id, h]));
  const vms = new Map(c.vms.map((v) => [v.id, v]));
  const used = new Map(c.hosts.map((h) => [h.id, { vcpus: 0, memoryMiB: 0 }]));
  const where = new Map(c.vms.map((v) => [v.id, v.hostId]));
  for (const v of c.vms) {
    const u = used.get(v.hostId);
    if (u) {
      u.vcpus += v.vcpus;
      u.memoryMiB += v.memoryMiB;
    }
  }
  const pc = new PlanConstraints(c);
  const room = (h: string, v: PlanVm) => {
    const x = hosts.get(h)!,
      u = used.get(h)!;
    return (
      x.state === 'up' &&
      u.vcpus + v.vcpus <= x.capacity.vcpus &&
      u.memoryMiB + v.memoryMiB <= x.capacity.memoryMiB
    );
  };
  const refuses = (v: PlanVm, h: string) => pc.refuses(v.id, h, { only: 'continuous' });
  const pending: RequestedMove[] = [];
  for (const m of moves) {
    const v = vms.get(m.vmId);
    if (!v) throw new RangeError(`VM ${m.vmId} does not exist`);
    if (!hosts.has(m.to)) throw new RangeError(`host ${m.to} does not exist`);
    if (hosts.get(m.to)!.state !== 'up')
      throw new RangeError(
        `host ${hosts.get(m.to)!.name} is ${hosts.get(m.to)!.state}; moves go to hosts that are up`,
      );
    if (pending.some((p) => p.vmId === m.vmId)) throw new RangeError(`VM ${v.name} is moved twice`);
    if (v.hostId !== m.to) pending.push(m);
  }
  const actions: PlanAction[] = [];
  const move = (v: PlanVm, to: string, reason: string) => {
    const from = where.get(v.id)!;
    const p = predictBlockMigration(
      {
        memMiB: v.memoryMiB,
        dirtyMiBps: 0,
        bandwidthMbps: o.bandwidthMbps,
        diskBytes: (v.localDiskGiB ?? 0) * 2 ** 30,
        writeMiBps: 0,
      },
      { mode: 'precopy' },
    );
    actions.push({
      type: 'migrate',
      vmId: v.id,
      vmName: v.name,
      from,
      to,
      reason,
      cost: { timeS: p.totalMs / 1000, dataMiB: p.bytes / 2 ** 20 },
    });
    const s = used.get(from)!,
      t = used.get(to)!;
    s.vcpus -= v.vcpus;
    s.memoryMiB -= v.memoryMiB;
    t.vcpus += v.vcpus;
    t.memoryMiB += v.memoryMiB;
    where.set(v.id, to);
    pc.move(v.id, to);
  };
  const routed = new Set<string>();
  const isPending = (vmId: string) => pending.some((q) => q.vmId === vmId);
  while (pending.length) {
    const k = pending.findIndex((m) => room(m.to, vms.get(m.vmId)!) && !refuses(vms.get(m.vmId)!, m.to));
    if (k >= 0) {
      const [m] = pending.splice(k, 1);
      move(vms.get(m!.vmId)!, m!.to, 'requested by an operator');
      continue;
    }
    // Deadlock. If some move waits for room, or on VMs, that no pending move takes away, nothing helps.
    for (const p of pending) {
      const v = vms.get(p.vmId)!;
      if (!room(p.to, v) && !pending.some((q) => where.get(q.vmId) === p.to))
        throw new RangeError(
          `${hosts.get(p.to)!.name} has no room for ${v.name} and none of the requested moves frees any`,
        );
      const bad = refuses(v, p.to);
      if (bad && !bad.vmIds.some((x) => x !== v.id && isPending(x)))
        throw new MovesBreakConstraint(
          `${v.name} may not move to ${hosts.get(p.to)!.name}: ${bad.message}`,
          bad,
        );
    }
    // Otherwise the moves form cycles (each waits on another pending move): route one VM that has
    // not been routed yet through a host in its zone with room that its constraints admit.
    const m = pending.find((p) => !routed.has(p.vmId));
    if (!m)
      throw new RangeError(
        `moves ${pending.map((p) => vms.get(p.vmId)!.name).join(', ')} still wait on each other after routing each once`,
      );
    const v = vms.get(m.vmId)!;
    routed.add(v.id);
    const pivot = c.hosts.find(
      (h) =>
        h.id !== where.get(v.id) &&
        h.id !== m.to &&
        pc.inZone(v.id, h.id) &&
        room(h.id, v) &&
        !refuses(v, h.id),
    );
    if (!pivot)
      throw new RangeError(
        `moves ${pending.map((p) => vms.get(p.vmId)!.name).join(', ')} wait on each other's room and no other host can hold ${v.name} in between`,
      );
    move(v, pivot.id, `through ${pivot.name} to break a cycle of moves (no target had room)`);
  }
  const end = pc
    .violations({ only: 'discrete' })
    .find((x) => x.vmIds.some((id) => moves.some((m) => m.vmId === id)));
  if (end) throw new MovesBreakConstraint(`these moves would end with ${end.message}`, end);
  return actions;
}
