/**
 * The control plane's loops, built from one options object: the same list in `nubis serve` (on the
 * real clock) and in the simulator's control-plane engine (on its SimClock), so a replay runs the
 * same loops as production. Loops due at the same time start in this order: reconcile, node
 * lifecycle, HA, boot, simulated load, energy, autoscaling, automation, network resync, memory
 * profiles, balloon targets.
 */
import type { ControlPlane } from '../control-plane.ts';
import type { Principal } from '../principal.ts';
import { automationController } from './automation.ts';
import { autoscalingController } from './autoscaling.ts';
import { bootController } from './boot.ts';
import type { Controller } from './controller.ts';
import { energyController } from './energy.ts';
import { haController } from './ha.ts';
import { nodeLifecycleController } from './node-lifecycle.ts';
import { reconcileController, type ReconcileFn } from './reconcile.ts';
import { simLoadController } from './sim-load.ts';
import { networkResyncController } from './network-resync.ts';
import { balloonTargetsController, memoryProfilesController } from './memory.ts';

/** Intervals and switches of the loops, s; all optional (see `resolveControllersOptions`). 0 turns a loop off. */
export interface ControllersOptions {
  /** Declare a host failed when its agent is silent this long (default 30). */
  hostFailureTimeoutS?: number;
  /** Heartbeat checks (default a sixth of the timeout, at least 1). */
  nodeLifecycleIntervalS?: number;
  /** HA: evacuate what failed hosts still hold (default 10). */
  haIntervalS?: number;
  /** Boot completion of simulated hosts (default 2). */
  bootIntervalS?: number;
  /** Energy integration (default 60). */
  energyIntervalS?: number;
  /** Autoscaling on CPU (default 60). */
  autoscalingIntervalS?: number;
  /** Consolidation audits and waiting plans (default 0: off; its level per zone says what a round does). */
  automationIntervalS?: number;
  /** Synthetic load for VMs on simulated hosts (default 0: off; needs `simUtilization`). */
  simLoadIntervalS?: number;
  /** The synthetic load (0..1) of a VM at a time, for `simLoadIntervalS`. */
  simUtilization?: (vmId: string, nowS: number) => number;
  /** The operations service's reconciler (no reconcile loop without it). */
  reconcile?: ReconcileFn;
  /** Reconciliation (default 60). */
  reconcileIntervalS?: number;
  /** Re-push every host its network state (default 60). */
  networkResyncIntervalS?: number;
  /** Ask drivers of hosts without an agent (simulated) for their guests' memory profiles (default 0: off; `nubis serve`: 60). */
  memoryProfilesIntervalS?: number;
  /** Balloon targets on hosts with the 'measured' memory policy (default 0: off; `nubis serve`: 60). */
  balloonIntervalS?: number;
}

export type ResolvedControllersOptions = Required<Omit<ControllersOptions, 'simUtilization' | 'reconcile'>> &
  Pick<ControllersOptions, 'simUtilization' | 'reconcile'>;

/**
 * Apply the defaults.
 * @throws RangeError on an interval that is not a number >= 0, or a timeout that is not > 0.
 */
export function resolveControllersOptions(o: ControllersOptions = {}): ResolvedControllersOptions {
  const timeout = o.hostFailureTimeoutS ?? 30;
  const r: ResolvedControllersOptions = {
    hostFailureTimeoutS: timeout,
    nodeLifecycleIntervalS: o.nodeLifecycleIntervalS ?? Math.max(1, timeout / 6),
    haIntervalS: o.haIntervalS ?? 10,
    bootIntervalS: o.bootIntervalS ?? 2,
    energyIntervalS: o.energyIntervalS ?? 60,
    autoscalingIntervalS: o.autoscalingIntervalS ?? 60,
    automationIntervalS: o.automationIntervalS ?? 0,
    simLoadIntervalS: o.simLoadIntervalS ?? 0,
    simUtilization: o.simUtilization,
    reconcile: o.reconcile,
    reconcileIntervalS: o.reconcileIntervalS ?? 60,
    networkResyncIntervalS: o.networkResyncIntervalS ?? 60,
    memoryProfilesIntervalS: o.memoryProfilesIntervalS ?? 0,
    balloonIntervalS: o.balloonIntervalS ?? 0,
  };
  if (!(timeout > 0)) throw new RangeError(`hostFailureTimeoutS must be a number > 0, got ${timeout}`);
  for (const [k, v] of Object.entries(r))
    if (k.endsWith('IntervalS') && !((v as number) >= 0 && Number.isFinite(v)))
      throw new RangeError(`${k} must be a number >= 0 (0: off), got ${String(v)}`);
  if (r.simLoadIntervalS > 0 && !r.simUtilization)
    throw new RangeError('simLoadIntervalS needs simUtilization (the load to report)');
  return r;
}

/** The loops of `cp`, acting as `system`, in their tie-break order; loops whose interval is 0 are left out. */
export function controlPlaneControllers(
  cp: ControlPlane,
  system: Principal,
  options: ControllersOptions = {},
): Controller[] {
  const o = resolveControllersOptions(options);
  const out: Controller[] = [];
  if (o.reconcile && o.reconcileIntervalS > 0)
    out.push(reconcileController(o.reconcile, { intervalS: o.reconcileIntervalS }));
  if (o.nodeLifecycleIntervalS > 0)
    out.push(
      nodeLifecycleController(cp, system, {
        failAfterS: o.hostFailureTimeoutS,
        intervalS: o.nodeLifecycleIntervalS,
      }),
    );
  if (o.haIntervalS > 0) out.push(haController(cp, system, { intervalS: o.haIntervalS }));
  if (o.bootIntervalS > 0) out.push(bootController(cp, { intervalS: o.bootIntervalS }));
  if (o.simLoadIntervalS > 0 && o.simUtilization)
    out.push(simLoadController(cp, system, { intervalS: o.simLoadIntervalS, utilization: o.simUtilization }));
  if (o.energyIntervalS > 0) out.push(energyController(cp, { intervalS: o.energyIntervalS }));
  if (o.autoscalingIntervalS > 0)
    out.push(autoscalingController(cp, system, { intervalS: o.autoscalingIntervalS }));
  if (o.automationIntervalS > 0)
    out.push(automationController(cp, system, { intervalS: o.automationIntervalS }));
  if (o.networkResyncIntervalS > 0)
    out.push(networkResyncController(cp, { intervalS: o.networkResyncIntervalS }));
  if (o.memoryProfilesIntervalS > 0)
    out.push(memoryProfilesController(cp, { intervalS: o.memoryProfilesIntervalS }));
  if (o.balloonIntervalS > 0) out.push(balloonTargetsController(cp, { intervalS: o.balloonIntervalS }));
  return out;
}
