/** Pure helpers behind the views (tested without a browser). */
import type { EventRow, Me } from './api.ts';

export interface Series {
  timeS: number[];
  activeHosts: number[];
  powerW: number[];
  slaViolation: number[];
  migrations: number[];
  energyKWh: number[];
}

/**
 * Pages by role: members see their tenant's VMs, images, volumes, usage and invoices; operators the
 * whole data center and its storage pools.
 */
export function navFor(role: Me['role']): [string, string][] {
  const ops = role === 'admin' || role === 'operator';
  return [
    ...(ops ? [['', 'Data center'] as [string, string]] : []),
    ['vms', 'VMs'],
    ...(role === 'admin' || role === 'member' ? [['create', 'Create VM'] as [string, string]] : []),
    ['images', 'Images'],
    ['volumes', 'Volumes'],
    ...(ops ? [['pools', 'Storage pools'] as [string, string]] : []),
    ...(ops ? [['plans', 'Plans'] as [string, string]] : []),
    ['usage', 'Usage'],
    ...(ops ? [['simulations', 'Simulations'] as [string, string]] : []),
  ];
}

/** The migrations a VM went through, from its events (oldest first). */
export function migrations(events: readonly EventRow[]) {
  return events
    .filter((e) => e.kind === 'vm.migrated')
    .map((e) => ({
      at: e.at,
      from: String(e.detail.from),
      to: String(e.detail.to),
      totalMs: e.detail.totalMs as number | undefined,
      downtimeMs: e.detail.downtimeMs as number | undefined,
      modeled: !!e.detail.modeled,
      mode: String(e.detail.modeUsed ?? e.detail.mode ?? ''),
    }))
    .reverse();
}

/** One plot's lines for a day: one per policy, x in hours (pure, for tests). */
export function linesFor(
  run: { series: Record<string, Series> },
  day: string,
  field: keyof Series,
  scale = 1,
) {
  const keys = Object.keys(run.series).filter((k) => k.startsWith(`${day}|`));
  const x = (run.series[keys[0]!]?.timeS ?? []).map((t) => t / 3600);
  return {
    x,
    series: keys.map((k) => ({
      label: k.slice(day.length + 1),
      values: run.series[k]![field].map((v) => v * scale),
    })),
  };
}
