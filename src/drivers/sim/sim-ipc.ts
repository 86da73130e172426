/**
 * Simulated hosts shared by several API processes (`nubis serve --workers N`): the simulated
 * driver keeps its guests in memory (and its state file), so one process must own them. The
 * cluster's primary process owns the `SimHypervisorDriver`, as a real host owns its guests, and
 * every API process reaches a simulated host through the IPC channel node:cluster gives it. Real
 * hosts are reached through their agents directly from each process, as before.
 */
import type { HostDriver, HostDrivers, HostRef } from '../../core/host-driver.ts';
import { DriverError } from '../../core/hypervisor.ts';

/** The host-driver methods that travel (openConsole does not: a console stream is not a message). */
const METHODS = [
  'create',
  'get',
  'list',
  'start',
  'stop',
  'pause',
  'resume',
  'reboot',
  'snapshot',
  'restore',
  'listSnapshots',
  'deleteSnapshot',
  'delete',
  'setBalloon',
  'metrics',
  'consoleLog',
  'migrate',
  'power',
  'applyNetwork',
  'createVolume',
  'deleteVolume',
  'attachVolume',
  'detachVolume',
  'snapshotVolume',
  'deleteVolumeSnapshot',
  'listVolumes',
] as const;
type Method = (typeof METHODS)[number];
const ALLOWED = new Set<string>(METHODS);

/** A call from an API process. */
interface SimCall {
  nubisSimCall: number;
  host: HostRef;
  method: Method;
  args: unknown[];
}
/** Its answer from the primary. */
interface SimReply {
  nubisSimReply: number;
  value?: unknown;
  error?: { code: DriverError['code'] | undefined; message: string; vmId?: string };
}

/** The two ends of an IPC channel (a cluster worker, or `process` in the worker). */
export interface IpcChannel {
  send(message: unknown): unknown;
  on(event: 'message', listener: (message: unknown) => void): unknown;
}

/**
 * The primary's end: answer the simulated-host calls arriving on `channel` with `drivers` (the
 * primary's, built on its `SimHypervisorDriver`).
 */
export function serveSimHosts(drivers: HostDrivers, channel: IpcChannel): void {
  channel.on('message', (m) => {
    const call = m as Partial<SimCall>;
    if (typeof call?.nubisSimCall !== 'number') return;
    const id = call.nubisSimCall;
    const reply = (r: Omit<SimReply, 'nubisSimReply'>) => {
      try {
        channel.send({ nubisSimReply: id, ...r });
      } catch {
        // The API process died meanwhile: nobody waits for this answer.
      }
    };
    void (async () => {
      if (!call.host || call.host.driver !== 'sim' || !ALLOWED.has(String(call.method)))
        throw new DriverError('BACKEND', `Not a simulated-host call: ${String(call.method)}`);
      const d = drivers.forHost(call.host) as unknown as Record<
        Method,
        (...a: unknown[]) => Promise<unknown>
      >;
      return d[call.method!](...(call.args ?? []));
    })().then(
      (value) => reply({ value }),
      (e: Error & { code?: DriverError['code']; vmId?: string }) =>
        reply({ error: { code: e.code, message: e.message, vmId: e.vmId } }),
    );
  });
}

/**
 * An API process's end: `base` for every host but the simulated ones, whose calls go to the
 * primary over `channel`. A driver's error comes back as a `DriverError` with its code.
 */
export function ipcHostDrivers(base: HostDrivers, channel: IpcChannel): HostDrivers {
  let next = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  channel.on('message', (m) => {
    const r = m as Partial<SimReply>;
    if (typeof r?.nubisSimReply !== 'number') return;
    const p = pending.get(r.nubisSimReply);
    if (!p) return;
    pending.delete(r.nubisSimReply);
    if (!r.error) return p.resolve(r.value);
    const { code, message, vmId } = r.error;
    p.reject(code ? new DriverError(code, message, vmId) : new Error(message));
  });
  const call = (host: HostRef, method: Method, args: unknown[]) =>
    new Promise<unknown>((resolve, reject) => {
      const id = next++;
      pending.set(id, { resolve, reject });
      channel.send({ nubisSimCall: id, host, method, args } satisfies SimCall);
    });
  const views = new Map<string, HostDriver>();
  return {
    forHost(host: HostRef): HostDriver {
      if (host.driver !== 'sim') return base.forHost(host);
      const key = `${host.id} ${host.name}`;
      let v = views.get(key);
      if (!v) {
        const ref: HostRef = { ...host };
        const view: Record<string, unknown> = {
          kind: 'sim',
          accel: 'sim',
          openConsole: () =>
            Promise.reject(
              new DriverError(
                'BACKEND',
                `The console of a VM on a simulated host is not available with several API processes (host "${host.name}")`,
              ),
            ),
          close: () => Promise.resolve(),
        };
        for (const m of METHODS) view[m] = (...args: unknown[]) => call(ref, m, args);
        views.set(key, (v = view as unknown as HostDriver));
      }
      return v;
    },
  };
}
