/**
 * Drive a simulated clock with controllers on it, so that every tick runs and finishes at the
 * simulated time it was due (a discrete-event step: OpenDC's SimulationDispatcher). `SimClock`
 * runs timers synchronously, but a tick is asynchronous (it awaits the store); stepping timer time
 * by timer time and waiting for the ticks keeps time still while they run.
 */
import type { SimClock } from '../../runtime/clock.ts';
import type { ControllerManager } from './controller-manager.ts';

/**
 * Advance `clock` to `toS`, firing every timer due on the way and waiting, at each timer time, until
 * the manager's ticks have finished. Leaves the clock at `toS`.
 * @throws RangeError if `toS` is before the clock's time.
 */
export async function advanceWithControllers(
  clock: SimClock,
  manager: ControllerManager,
  toS: number,
): Promise<void> {
  if (!(toS >= clock.now())) throw new RangeError(`Cannot advance to ${toS}: the clock is at ${clock.now()}`);
  await manager.idle();
  for (;;) {
    const next = clock.peekTime();
    if (next === undefined || next > toS) break;
    clock.advanceTo(next);
    await manager.idle();
  }
  clock.advanceTo(toS);
}
