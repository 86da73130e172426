/**
 * Reconciliation: finish or roll back what a crash interrupted (operations left running, orphan
 * capacity claims, VMs in a transitional state, usage records), asking the drivers what actually
 * runs (Nova's `_init_instance`; Kubernetes' reconcile). The reconciler itself belongs to the
 * operations service; this loop runs it at start-up and periodically.
 */
import { controller, type Controller } from './controller.ts';

/** One reconciliation pass (idempotent). */
export type ReconcileFn = (nowS: number) => Promise<unknown>;

/** The reconciliation loop around the operations service's reconciler. */
export function reconcileController(reconcile: ReconcileFn, o: { intervalS: number }): Controller {
  return controller('reconcile', o.intervalS, async (nowS) => {
    await reconcile(nowS);
  });
}
