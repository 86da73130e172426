import { SimHypervisorDriver } from '../src/drivers/sim/sim-driver.ts';
import { SimClock } from '../src/runtime/clock.ts';
import { hypervisorConformance } from './hypervisor-conformance.ts';

const clock = new SimClock();
hypervisorConformance({
  name: 'SimHypervisorDriver',
  open: async () => new SimHypervisorDriver(clock),
  spec: (id) => ({ id, memoryMiB: 256, vcpus: 1, image: { kernel: 'sim://tiny' } }),
  wait: async (ms) => clock.advanceBy(ms / 1000),
});
