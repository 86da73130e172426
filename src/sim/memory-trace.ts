/**
 * Reader for working-set traces beside the CPU traces (the scenario's `memory.workingSetTrace`): a
 * folder with one file per VM in the PlanetLab format (one integer per line, a sample every 300 s),
 * each value the VM's working set as a percentage of its RAM. Files are matched to the workload's
 * VMs by file name; files of no VM are ignored (so `--limit-vms` works), a VM without a file is an
 * error.
 */
import { readPlanetLabDay, TraceError } from './planetlab.ts';
import type { Workload } from './workload.ts';

/**
 * Read the working-set traces for the VMs of `w`, as a workload in `w`'s VM order (same sample
 * count and interval), so `utilizationAt(result, v, t)` is VM v's working-set share at t.
 * @throws TraceError naming the folder, the file and line of a bad value, or the first VM without a file
 */
export function readWorkingSetTrace(dir: string, w: Workload): Workload {
  let day: Workload;
  try {
    day = readPlanetLabDay(dir, { samples: w.samplesPerVm - 1 });
  } catch (e) {
    if (e instanceof TraceError) throw new TraceError(`memory.workingSetTrace: ${e.message}`);
    throw e;
  }
  const index = new Map(day.names.map((n, i) => [n, i]));
  const n = w.samplesPerVm;
  const samples = new Uint8Array(w.names.length * n);
  const missing: string[] = [];
  w.names.forEach((name, v) => {
    const i = index.get(name);
    if (i === undefined) missing.push(name);
    else samples.set(day.samples.subarray(i * n, (i + 1) * n), v * n);
  });
  if (missing.length)
    throw new TraceError(
      `memory.workingSetTrace: no file for VM${missing.length > 1 ? 's' : ''} ${missing
        .slice(0, 3)
        .map((m) => `"${m}"`)
        .join(
          ', ',
        )}${missing.length > 3 ? ` and ${missing.length - 3} more` : ''} in ${dir} (one file per VM, named as its CPU trace)`,
    );
  return {
    source: dir,
    names: w.names.slice(),
    samplesPerVm: n,
    sampleIntervalS: w.sampleIntervalS,
    samples,
  };
}
