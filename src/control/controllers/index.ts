/** The control plane's loops: the controller interface, the manager that ticks them, and the loops. */
export { controller, type Controller, type ControllerFailure, type ControllerStats } from './controller.ts';
export { ControllerManager, type ControllerManagerOptions } from './controller-manager.ts';
export { advanceWithControllers } from './advance-sim-clock.ts';
export { recordControllerFailure } from './record-failure.ts';
