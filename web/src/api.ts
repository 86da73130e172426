/**
 * The dashboard is an API client like the CLI: every number it shows comes from the public API,
 * through the shared typed client (src/client) with the session's token, on the page's own origin.
 */
import { NubisClient } from '../../src/client/index.ts';
import type { DatacenterSummary } from '../../src/control/inventory/summary-types.ts';

export { ApiError } from '../../src/client/index.ts';
export type {
  EventRow,
  Flavor,
  Host,
  Image,
  Invoice,
  Me,
  Operation,
  Overview,
  PlacementDecision,
  Plan,
  PlanAction,
  ServerGroup,
  SimulationRun,
  SimulationSummary,
  StoragePool,
  Vm,
  VmAction,
  Volume,
  VolumeSnapshot,
} from '../../src/client/index.ts';

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

/** The API with the session's token (read on every call, so signing in or out needs no new client). */
export const client = new NubisClient({ token: () => session.token });

/** The data-center page's one answer (GET /v1/datacenter/summary): VM counts, and host columns for operators. */
export type { DatacenterSummary, HostColumns } from '../../src/control/inventory/summary-types.ts';

/** The summary; `hosts: false` asks for the VM counts only (the VM list's totals). */
export function summary(o: { hosts?: boolean } = {}): Promise<DatacenterSummary> {
  return client.http.call<DatacenterSummary>('GET', '/v1/datacenter/summary', {
    query: o.hosts === false ? { hosts: 'false' } : {},
  });
}

/** Hand text (a CSV invoice) to the browser as a download. */
export function download(text: string, filename: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
