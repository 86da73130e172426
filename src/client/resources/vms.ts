import { Http, type PageQuery, seg, type WriteOptions } from '../http.ts';
import type { ConsoleTicket, VmConsoleLog, VmMemory } from '../inventory-types.ts';
import type {
  MigrateOptions,
  Operation,
  PlacementDecision,
  Vm,
  VmAction,
  VmActionOptions,
  SnapshotList,
  VmFilters,
  VmCreate,
} from '../types.ts';

/** Virtual machines. `vm` arguments are ids or names (unique among the VMs you see). Writes answer an Operation. */
export const vmsApi = (http: Http) => ({
  /**
   * Your tenant's VMs (all for admin and operator), oldest first, optionally filtered: every page,
   * or the first `limit` VMs.
   */
  list: ({ limit, ...q }: VmFilters & { limit?: number } = {}) => http.all<Vm>('/v1/vms', { ...q }, limit),
  /** One page of VMs (limit 1-1000, default 100; cursor: the previous page's `nextCursor`; fields). */
  page: (q: PageQuery & VmFilters = {}) => http.page<Vm>('/v1/vms', { ...q }),
  /** One VM with the actions its state allows and its recent CPU series. */
  get: (vm: string) => http.get<Vm>(`/v1/vms/${seg(vm)}`),
  /** A VM's measured memory (working set, sharing summary; never page hashes). */
  memory: (vm: string) => http.get<VmMemory>(`/v1/vms/${seg(vm)}/memory`),
  /** Creates a VM: the operation says where it went (`vmId`) or why it failed. */
  create: (v: VmCreate, w?: WriteOptions) => http.post<Operation>('/v1/vms', v, w),
  /** Where a VM would go and why (nothing is created). */
  dryRun: (v: VmCreate) => http.post<PlacementDecision>('/v1/vms', { ...v, dryRun: true }),
  /** Runs a lifecycle action (start, stop, reboot, suspend, resume, snapshot, restore, resize, clone, delete). */
  action: (vm: string, action: VmAction, o: VmActionOptions = {}, w?: WriteOptions) =>
    http.post<Operation>(`/v1/vms/${seg(vm)}/actions`, { action, ...o }, w),
  delete: (vm: string, w?: WriteOptions) => http.delete<Operation>(`/v1/vms/${seg(vm)}`, w),
  /** The VM's snapshots, oldest first. */
  snapshots: (vm: string) => http.get<SnapshotList>(`/v1/vms/${seg(vm)}/snapshots`),
  /** Deletes one snapshot. */
  deleteSnapshot: (vm: string, name: string) =>
    http.delete<void>(`/v1/vms/${seg(vm)}/snapshots/${seg(name)}`),
  /** The end of the VM's serial console log: `tail` bytes (1..1 MiB, default 64 KiB). */
  consoleLog: (vm: string, tail?: number) => http.get<VmConsoleLog>(`/v1/vms/${seg(vm)}/console`, { tail }),
  /** A one-time ticket for the interactive console's WebSocket (members and admins). */
  consoleTicket: (vm: string) => http.post<ConsoleTicket>(`/v1/vms/${seg(vm)}/console/tickets`, {}),
  /**
   * The WebSocket URL of a ticket (ws:// or wss:// on the API's origin; `origin` is needed when the
   * client was built without a base URL, as in the dashboard: pass `location.origin`).
   */
  consoleUrl: (t: ConsoleTicket, origin?: string) =>
    `${(http.baseUrl || origin || '').replace(/^http/, 'ws')}${t.path}?ticket=${encodeURIComponent(t.ticket)}`,
  /** Live-migrates a VM, to a host or where placement says. */
  migrate: (vm: string, o: MigrateOptions = {}, w?: WriteOptions) =>
    http.post<Operation>(`/v1/vms/${seg(vm)}/migrate`, o, w),
});
