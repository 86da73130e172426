/** A controller's failed tick, filed in the event log (what `nubis serve` and the simulator do with it). */
import { recordEvent, type ControlContext } from '../context.ts';
import type { ControllerFailure } from './controller.ts';

/**
 * An `onError` for a `ControllerManager` that appends a `controller.failed` event (no tenant: the
 * loops are the system's) with the controller's name and the error's message.
 * @example new ControllerManager(ctx.clock, controllers, { onError: recordControllerFailure(ctx) })
 */
export function recordControllerFailure(
  ctx: Pick<ControlContext, 'db' | 'clock'>,
): (failure: ControllerFailure) => Promise<void> {
  return async (f) => {
    await recordEvent(ctx, ctx.db, {
      actor: 'system',
      kind: 'controller.failed',
      detail: {
        controller: f.controller,
        atS: f.atS,
        message: f.error instanceof Error ? f.error.message : String(f.error),
      },
    });
  };
}
