/**
 * The control plane's loops in a replay: the very controllers `nubis serve` runs, on the replay's
 * SimClock, one tick at a time (serial), so the same scenario gives the same actions and ids every
 * time, in process or over HTTP.
 */
import type { ControlPlane } from '../control/control-plane.ts';
import { controlPlaneControllers } from '../control/controllers/control-plane-controllers.ts';
import { ControllerManager } from '../control/controllers/controller-manager.ts';
import { recordControllerFailure } from '../control/controllers/record-failure.ts';
import { systemPrincipal } from '../control/controllers/system-principal.ts';
import type { SimClock } from '../runtime/clock.ts';
import type { OpsScenario } from './ops-scenario.ts';

/** Seconds after each step's events at which the replay's loops tick. */
export const REPLAY_PHASE_S = 1;

/**
 * Start the control plane's loops for a replay of `s` (call after `bootstrap()`): audits and
 * autoscaling every `automation.intervalS`, boot completion every minute (or step, if shorter),
 * energy integration and the reconciler hourly, the other loops every step. Drive the clock with `advanceWithControllers`.
 */
export async function startReplayLoops(
  cp: ControlPlane,
  s: OpsScenario,
  clock: SimClock,
): Promise<ControllerManager> {
  const stepS = s.stepS;
  const manager = new ControllerManager(
    clock,
    controlPlaneControllers(cp, await systemPrincipal(cp.db), {
      nodeLifecycleIntervalS: stepS,
      haIntervalS: stepS,
      bootIntervalS: Math.min(60, stepS),
      // Every step's metrics report integrates energy first (as every write that changes power does):
      // the loop only keeps the integral current when nothing else happens, so it runs hourly here.
      energyIntervalS: Math.max(3600, stepS),
      autoscalingIntervalS: s.automation.intervalS,
      automationIntervalS: s.automation.intervalS,
      // The reconciler finds nothing to repair in a replay without crashes; it runs as in production
      // (same code), hourly: every step it would cost a fifth of the replay's time.
      reconcile: () => cp.reconcile(),
      reconcileIntervalS: Math.max(3600, s.automation.intervalS),
    }),
    { serial: true, onError: recordControllerFailure(cp.ctx) },
  );
  // Ticks fall one second after each step's world events (the trace's load reports and the injected
  // failures at t), so the loops act on what was reported at t, as a real control plane does; ticking
  // at t itself would run every audit on the previous step's load (3x the migrations on ops-demo).
  manager.start({ phaseS: REPLAY_PHASE_S });
  return manager;
}
