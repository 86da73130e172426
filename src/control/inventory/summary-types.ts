/** The shape of GET /v1/datacenter/summary (no imports: the dashboard reads it too). */

/** The hosts of the summary, one array per field, in host-name order (index i is one host). */
export interface HostColumns {
  id: string[];
  name: string[];
  state: string[];
  /** Index into `racks` (each "datacenter / rack") and `zones`. */
  rack: number[];
  zone: number[];
  racks: string[];
  zones: string[];
  /** Latest measured CPU utilization (0..1+, 3 decimals) and power draw (W, whole; 0 when not on). */
  cpu: number[];
  powerW: number[];
  vms: number[];
  used: { vcpus: number[]; memoryMiB: number[]; diskGiB: number[] };
  capacity: { vcpus: number[]; memoryMiB: number[]; diskGiB: number[] };
}

/** GET /v1/datacenter/summary: counts for everyone allowed the overview, host columns for operators. */
export interface DatacenterSummary {
  vms: { total: number; byState: Record<string, number> };
  hosts?: { total: number; byState: Record<string, number>; columns: HostColumns };
}
