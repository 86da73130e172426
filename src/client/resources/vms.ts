import { Http, seg, type WriteOptions } from '../http.ts';
import type {
  MigrateOptions,
  Operation,
  PlacementDecision,
  Vm,
  VmAction,
  VmActionOptions,
  VmCreate,
} from '../types.ts';

/** Virtual machines. `vm` arguments are ids (resolve names with `list`). Writes answer an Operation. */
export const vmsApi = (http: Http) => ({
  /** Your tenant's VMs (all for admin and operator), optionally by state or host. */
  list: (q: { state?: string; host?: string } = {}) => http.get<Vm[]>('/v1/vms', q),
  /** One VM with the actions its state allows and its recent CPU series. */
  get: (vm: string) => http.get<Vm>(`/v1/vms/${seg(vm)}`),
  /** Creates a VM: the operation says where it went (`vmId`) or why it failed. */
  create: (v: VmCreate, w?: WriteOptions) => http.post<Operation>('/v1/vms', v, w),
  /** Where a VM would go and why (nothing is created). */
  dryRun: (v: VmCreate) => http.post<PlacementDecision>('/v1/vms', { ...v, dryRun: true }),
  /** Runs a lifecycle action (start, stop, reboot, suspend, resume, snapshot, restore, resize, clone, delete). */
  action: (vm: string, action: VmAction, o: VmActionOptions = {}, w?: WriteOptions) =>
    http.post<Operation>(`/v1/vms/${seg(vm)}/actions`, { action, ...o }, w),
  delete: (vm: string, w?: WriteOptions) => http.delete<Operation>(`/v1/vms/${seg(vm)}`, w),
  /** Live-migrates a VM, to a host or where placement says. */
  migrate: (vm: string, o: MigrateOptions = {}, w?: WriteOptions) =>
    http.post<Operation>(`/v1/vms/${seg(vm)}/migrate`, o, w),
});
