/** The dashboard is an API client like the CLI: every number it shows comes from the public API. */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body?: unknown,
  ) {
    super(message);
  }
}

const KEY = 'nubis.token';

export const session = {
  get token(): string | null {
    return sessionStorage.getItem(KEY);
  },
  set(token: string) {
    sessionStorage.setItem(KEY, token);
  },
  clear() {
    sessionStorage.removeItem(KEY);
  },
};

/** Call the API with the session's token; errors carry the server's code and message. */
export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const token = session.token;
  const r = await fetch(path, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let data: unknown;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = text;
  }
  if (!r.ok) {
    const d = data as { code?: string; message?: string } | undefined;
    throw new ApiError(r.status, d?.code ?? 'ERROR', d?.message ?? `${method} ${path}: ${r.status}`, data);
  }
  return data as T;
}

/** Fetch a file (CSV) with the token and hand it to the browser as a download. */
export async function download(path: string, filename: string): Promise<void> {
  const r = await fetch(path, { headers: { authorization: `Bearer ${session.token ?? ''}` } });
  if (!r.ok) throw new ApiError(r.status, 'ERROR', `${path}: ${r.status}`);
  const url = URL.createObjectURL(await r.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// ---- the shapes the pages use (a subset of the API's answers) ----

export interface Me {
  userId: string;
  userName: string;
  tenantId: string;
  role: 'admin' | 'operator' | 'member' | 'reader';
}
export interface Host {
  id: string;
  name: string;
  state: string;
  datacenter: string;
  zone: string;
  rack: string;
  tier: string;
  driver: string;
  cpu: number;
  powerW: number;
  vms: number;
  capacity: { vcpus: number; memoryMiB: number; diskGiB: number };
  used: { vcpus: number; memoryMiB: number; diskGiB: number };
  overcommit: { cpu: number; memory: number; disk: number };
  cpuSeries?: { t: number; cpu: number }[];
}
export interface Vm {
  id: string;
  name: string;
  tenantId: string;
  state: string;
  flavor: string;
  image: string;
  hostId: string | null;
  hostName: string | null;
  ha: boolean;
  haPriority: number;
  cpu: number | null;
  createdAt: string;
  updatedAt: string;
  allowedActions: string[];
  cpuSeries?: { t: number; cpu: number }[];
}
export interface Overview {
  vms: { total: number; byState: Record<string, number> };
  energyTodayKWh: number;
  facilityEnergyTodayKWh: number;
  pue: number;
  hosts?: { total: number; byState: Record<string, number> };
  powerW?: number;
  overloadedHosts?: number;
  slaViolation?: number;
}
export interface EventRow {
  id: number;
  at: string;
  kind: string;
  vmId: string | null;
  hostId: string | null;
  actor: string | null;
  detail: Record<string, unknown>;
}
export interface PlanAction {
  type: 'migrate' | 'power-on' | 'power-off';
  vmId?: string;
  vmName?: string;
  hostId?: string;
  hostName?: string;
  from?: string;
  to?: string;
  reason: string;
  cost?: { timeS?: number; dataMiB?: number; watts?: number };
  gain?: { wattsSaved?: number; loadMoved?: number };
}
export interface Plan {
  id: string;
  status: string;
  zone: string | null;
  createdAt: string;
  createdBy: string;
  summary: string;
  actions: PlanAction[];
  result: null | {
    done?: number;
    of?: number;
    wave?: number;
    waves?: number;
    waitingForNames?: string[];
    failed?: { action: number; error: string } | null;
    cancelled?: number;
    violations?: { action: number; reason: string }[];
  };
  finishedAt: string | null;
}
export interface Flavor {
  id: string;
  name: string;
  vcpus: number;
  memoryMiB: number;
  diskGiB: number;
}
export interface Operation {
  id: string;
  vmId: string | null;
  kind: string;
  status: string;
  error: string | null;
  result: unknown;
}
