/** The JSON shapes of metering, billing, energy and simulation runs (see types.ts for the rest). */

/** A billing period [from, to) (ISO date-times) of a tenant (default: the caller's). */
export interface Period {
  from: string;
  to: string;
  tenant?: string;
}
export interface UsageHours {
  runningS: number;
  stoppedS: number;
  vcpuHours: number;
  memoryGiBHours: number;
  diskGiBHours: number;
}
export interface UsageReport {
  tenantId: string;
  from: string;
  to: string;
  vms: ({ vmId: string; vm: string; flavor: string; energyKWh: number } & UsageHours)[];
  totals: UsageHours & { energyKWh: number };
}
export interface DailyUsage {
  tenantId: string;
  from: string;
  to: string;
  rows: ({ day: string; flavor: string } & UsageHours)[];
}
export interface Tariff {
  id: string;
  name: string;
  validFrom: string;
  validTo: string | null;
  currency: string;
  vcpuHour: number;
  memoryGiBHour: number;
  diskGiBHour: number;
  kWh: number;
}
export interface TariffCreate {
  name: string;
  validFrom: string;
  validTo?: string;
  currency?: string;
  vcpuHour: number;
  memoryGiBHour: number;
  diskGiBHour: number;
  kWh: number;
}
export interface InvoiceLine extends UsageHours {
  flavor: string;
  tariff: string;
  currency: string;
  energyKWh: number;
  amount: number;
}
/** An amount in one currency. */
export interface CurrencyAmount {
  currency: string;
  amount: number;
}
export interface Invoice {
  tenantId: string;
  from: string;
  to: string;
  lines: InvoiceLine[];
  /** One total per currency (alphabetical); amounts in different currencies are never added. */
  totals: CurrencyAmount[];
  /** Only when the invoice has exactly one currency. */
  currency?: string;
  /** Only when the invoice has exactly one currency: that currency's total. */
  total?: number;
  /** VM time no tariff covers (not billed). */
  unbilledSeconds: number;
  /** When some VM time is not billed: says so and how to set a tariff. */
  notice?: string;
}
export interface EnergyReport {
  by: 'host' | 'zone' | 'tenant';
  from: string;
  to: string;
  pue: number;
  rows: { ref: string; name: string; itKWh: number; facilityKWh: number }[];
  totals: { itKWh: number; facilityKWh: number };
}

export interface SimulationStart {
  name?: string;
  scenario: string;
  trace?: string;
  policies: string[];
  mode?: 'cloudsim' | 'default';
  limitVms?: number;
  hosts?: number;
  engine?: 'simulator' | 'control-plane';
}
export interface SimulationSummary {
  name: string;
  status: 'done' | 'running' | 'failed';
  engine?: string;
  scenario?: string;
  mode?: string;
  createdAt: string;
  policies: string[];
  days: string[];
  error?: string;
}
/** Per-step series of one day and policy of a run. */
export interface SimulationSeries {
  timeS: number[];
  activeHosts: number[];
  powerW: number[];
  slaViolation: number[];
  migrations: number[];
  energyKWh: number[];
}
/** A finished run: result rows and series keyed `DAY|POLICY` (a running or failed run answers its summary). */
export interface SimulationRun extends Omit<SimulationSummary, 'days' | 'policies'> {
  command?: string;
  rows: Record<string, number | string>[];
  series: Record<string, SimulationSeries>;
}
