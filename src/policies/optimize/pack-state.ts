/**
 * A packing instance and a placement as the catalog's `ConstraintState` (src/core/constraints/):
 * hosts, where each VM runs, where it ran (`origin`: root, quarantine), physical capacities and
 * demands per resource (preserve, overbook). Hosts are on when a VM runs on them (maxOnline): the
 * optimizer's placement is an end state in which emptied hosts are switched off. The MILP reads the
 * same resource figures, so what it encodes and what the checkers judge agree. Pure.
 */
import type { ConstraintState, Resource, ResourceAmounts } from '../../core/constraints/index.ts';
import { RESOURCES } from '../../core/constraints/index.ts';
import type { PackInstance } from './instance.ts';

/** The dimension holding a resource: the one named like it (`cpu` counts as `vcpus`), or −1. */
export function resourceDim(inst: PackInstance, r: Resource): number {
  const d = inst.dims.indexOf(r);
  return d >= 0 || r !== 'vcpus' ? d : inst.dims.indexOf('cpu');
}

/** A VM's demand of a resource (0 when no dimension holds it). */
export function resourceDemand(inst: PackInstance, vi: number, r: Resource): number {
  const d = resourceDim(inst, r);
  return d >= 0 ? (inst.vms[vi]!.demand[d] ?? 0) : 0;
}

/** A host's physical capacity of a resource (`physical`, else the dimension), or undefined: not judged. */
export function resourceCapacity(inst: PackInstance, hi: number, r: Resource): number | undefined {
  const h = inst.hosts[hi]!;
  const p = h.physical?.[r];
  if (p !== undefined) return p;
  const d = resourceDim(inst, r);
  return d >= 0 ? h.capacity[d] : undefined;
}

function amounts(get: (r: Resource) => number | undefined): ResourceAmounts {
  const out: ResourceAmounts = {};
  for (const r of RESOURCES) {
    const x = get(r);
    if (x !== undefined) out[r] = x;
  }
  return out;
}

/**
 * The state of a placement (host index per VM, −1: not placed) for the checkers.
 * @example checkAll(inst.constraints ?? [], packState(inst, hostOfVm))
 */
export function packState(inst: PackInstance, hostOfVm: ArrayLike<number>): ConstraintState {
  const placement = new Map<string, string[]>();
  inst.vms.forEach((v, i) => {
    const h = hostOfVm[i]!;
    if (h >= 0 && h < inst.hosts.length) placement.set(v.id, [inst.hosts[h]!.id]);
  });
  return { ...packStateBase(inst), placement };
}

/** The parts of a state that do not depend on the placement (a packer fills `placement` as it goes). */
export function packStateBase(inst: PackInstance): Omit<ConstraintState, 'placement'> {
  return {
    hosts: new Map(inst.hosts.map((h) => [h.id, h])),
    vmNames: new Map(inst.vms.map((v) => [v.id, v.name ?? v.id])),
    origin: new Map(inst.vms.flatMap((v) => (v.hostId !== undefined ? [[v.id, [v.hostId]] as const] : []))),
    capacity: new Map(inst.hosts.map((h, i) => [h.id, amounts((r) => resourceCapacity(inst, i, r))])),
    demand: new Map(
      inst.vms.map((v, i) => [
        v.id,
        amounts((r) => (resourceDim(inst, r) >= 0 ? resourceDemand(inst, i, r) : undefined)),
      ]),
    ),
  };
}
