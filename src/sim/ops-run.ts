/**
 * Replay a workload against the control plane's own automation: the simulator's second composition
 * root. The control plane (the same ControlPlane class `nubis serve` runs) gets simulated hosts, a
 * simulated clock and an in-memory store; this runner plays the world around it: it reports the
 * trace's CPU load as an agent would, fails and repairs hosts (MTBF/MTTR), and runs automation
 * rounds. The port is either the control plane's methods (`nubis sim --engine control-plane`) or
 * its HTTP API (a served control plane), and both give the same actions.
 */
import { NubisClient, type VmCreate } from '../client/index.ts';
import { authorize, tenantFilter } from '../control/authz.ts';
import { ControlPlane, type Principal } from '../control/control-plane.ts';
import { advanceWithControllers } from '../control/controllers/advance-sim-clock.ts';
import type { ControllerManager } from '../control/controllers/controller-manager.ts';
import { openStore } from '../control/store/open-store.ts';
import { hostLoad } from '../control/telemetry/metrics.ts';
import { createHostDrivers } from '../drivers/host-drivers.ts';
import { SimHypervisorDriver } from '../drivers/sim/sim-driver.ts';
import { POWER_MODELS, type PowerModelSpec } from '../models/power.ts';
import { SimClock } from '../runtime/clock.ts';
import { seededRandom } from '../runtime/random.ts';
import { seededIds } from '../runtime/ids.ts';
import type { SimSeries } from './datacenter-sim.ts';
import type { OpsScenario } from './ops-scenario.ts';
import { startReplayLoops } from './ops-loops.ts';
import { readPlanetLabDay } from './planetlab.ts';
import { syntheticWorkload } from './synthetic.ts';
import { utilizationAt, type Workload } from './workload.ts';

export interface OpsHost {
  id: string;
  name: string;
  state: string;
  zone: string;
  vms: number;
  cpu: number;
  powerW: number;
}
export interface OpsVm {
  id: string;
  name: string;
  hostId: string | null;
  state: string;
}
export interface OpsEvent {
  id: number;
  at: string;
  kind: string;
  vmId: string | null;
  hostId: string | null;
  actor: string | null;
  detail: Record<string, unknown>;
}

/** What the runner needs from a control plane; two implementations: methods and HTTP. */
export interface OpsPort {
  setQuotas(
    tenant: string,
    q: { vcpus: number; memoryMiB: number; vms: number; diskGiB: number },
  ): Promise<unknown>;
  createFlavor(f: { name: string; vcpus: number; memoryMiB: number; diskGiB: number }): Promise<unknown>;
  createImage(name: string): Promise<unknown>;
  createHost(h: {
    name: string;
    vcpus: number;
    memoryMiB: number;
    cpuRatio: number;
    reservedMemoryMiB: number;
    zone: string;
    powerModel: PowerModelSpec;
  }): Promise<unknown>;
  createVm(v: { name: string; flavor: string; image: string; ha: boolean; preset: string }): Promise<unknown>;
  setAutomation(
    level: 'manual' | 'partial' | 'full',
    s: {
      policy: string;
      spareHosts: number;
      powerOffGraceS: number;
      maxMigrationsPerHost: number;
      maxMigrationsPerCluster: number;
    },
  ): Promise<unknown>;
  recordMetrics(samples: { vm: string; cpu: number }[]): Promise<unknown>;
  setHostState(host: string, state: 'up' | 'failed'): Promise<unknown>;
  automationRound(): Promise<unknown>;
  hosts(): Promise<OpsHost[]>;
  vms(): Promise<OpsVm[]>;
  eventsAfter(id: number): Promise<OpsEvent[]>;
}

/**
 * The control plane's methods, in-process. The two reads the runner makes every step (VMs, hosts)
 * take from the store only the fields it uses, in the list methods' order and with their
 * authorization (the full views cost a third of a replay's time).
 */
export function methodPort(cp: ControlPlane, p: Principal): OpsPort {
  return {
    setQuotas: (tenant, q) => cp.setQuotas(p, tenant, q),
    createFlavor: (f) => cp.createFlavor(p, f),
    createImage: (name) => cp.createImage(p, { name, format: 'kernel+initramfs', sizeMiB: 16 }),
    createHost: (h) => cp.createHost(p, { ...h, diskGiB: 1000, driver: 'sim' }),
    createVm: (v) => cp.createVm(p, v),
    setAutomation: (level, s) => cp.setAutomation(p, level, s),
    recordMetrics: (samples) => cp.recordMetrics(p, samples),
    setHostState: (host, state) => cp.setHostState(p, host, state),
    automationRound: () => cp.automationRound(p),
    hosts: async () => {
      authorize(p, 'host:read');
      const rows = await cp.db
        .selectFrom('hosts')
        .select(['id', 'name', 'state', 'zone', 'vm_count', 'power_model', 'cpu_history'])
        .where('deleted_at', 'is', null)
        .orderBy('name')
        .execute();
      return rows.map((h) => ({
        id: h.id,
        name: h.name,
        state: h.state,
        zone: h.zone,
        vms: Number(h.vm_count),
        ...hostLoad(h),
      }));
    },
    vms: async () => {
      authorize(p, 'vm:read');
      let q = cp.db
        .selectFrom('vms')
        .select(['id', 'name', 'host_id', 'state'])
        .where('deleted_at', 'is', null);
      const own = tenantFilter(p, 'vm:read');
      if (own) q = q.where('tenant_id', '=', own);
      const rows = await q.orderBy('created_at').orderBy('id').execute();
      return rows.map((v) => ({ id: v.id, name: v.name, hostId: v.host_id, state: v.state }));
    },
    eventsAfter: async (id) => (await cp.listEvents(p, { after: id, limit: 10000 })) as OpsEvent[],
  };
}

/** The control plane's HTTP API (a served control plane whose clock the runner drives), through the client. */
export function httpPort(baseUrl: string, token: string): OpsPort {
  const c = new NubisClient({ baseUrl, token });
  return {
    setQuotas: (tenant, q) => c.tenants.setQuotas(tenant, q),
    createFlavor: (f) => c.flavors.create(f),
    createImage: (name) => c.images.create({ name, format: 'kernel+initramfs', sizeMiB: 16 }),
    createHost: (h) => c.hosts.create({ ...h, diskGiB: 1000, driver: 'sim' }),
    createVm: (v) => c.vms.create({ ...v, preset: v.preset as VmCreate['preset'] }),
    setAutomation: (level, s) => c.automation.set({ automation: level, ...s }),
    recordMetrics: (samples) => c.metrics.record(samples),
    setHostState: (host, state) => c.hosts.setState(host, state),
    automationRound: () => c.automation.runRound(),
    hosts: () => c.hosts.list(),
    vms: () => c.vms.list(),
    eventsAfter: (id) => c.events.list({ after: id, limit: 10000 }),
  };
}

export interface OpsResult {
  scenario: string;
  policy: string;
  hosts: number;
  vms: number;
  energyKWh: number;
  migrations: number;
  powerOffs: number;
  powerOns: number;
  failures: number;
  haRestarts: number;
  lostVms: number;
  /** Mean share of hosts that are on whose VMs ask for more CPU than it has (SLATAH-like). */
  overloadShare: number;
  meanActiveHosts: number;
  plans: number;
  series: SimSeries;
  /** Every automatic action, in order, with names only: comparable across runs and paths. */
  actions: string[];
}

/** The workload of a scenario. */
export function opsWorkload(s: OpsScenario): Workload {
  const w = s.workload;
  if (w.type === 'planetlab') return readPlanetLabDay(w.path, { limit: w.limitVms });
  if (w.type === 'steps') {
    const n = Math.floor(s.durationS / s.stepS) + 1;
    const samples = new Uint8Array(w.vms * n);
    const steps = w.steps.slice().sort((a, b) => a.atS - b.atS);
    for (let k = 0; k < n; k++) {
      const pct = steps.filter((x) => x.atS <= k * s.stepS).pop()?.percent ?? 0;
      for (let v = 0; v < w.vms; v++) samples[v * n + k] = Math.round(pct);
    }
    return {
      source: 'steps',
      names: Array.from({ length: w.vms }, (_, i) => `vm${i}`),
      samplesPerVm: n,
      sampleIntervalS: s.stepS,
      samples,
    };
  }
  return syntheticWorkload(
    { vms: w.vms, medianPercent: w.medianPercent, sampleIntervalS: s.stepS },
    seededRandom(w.seed ?? s.seed),
    w.seed ?? s.seed,
  );
}

/** Host failure and repair times (s from the start): the listed ones, and seeded exponential ones per host in name order. */
export function failureSchedule(
  s: OpsScenario,
  hostNames: string[],
): { t: number; host: string; state: 'failed' | 'up' }[] {
  const f = s.failures;
  if (!f) return [];
  const out: { t: number; host: string; state: 'failed' | 'up' }[] = [];
  for (const e of f.events ?? []) {
    const host = hostNames[e.host - 1];
    if (!host)
      throw new RangeError(`failures.events: no host ${e.host}; the scenario has ${hostNames.length}`);
    out.push({ t: e.atS, host, state: 'failed' }, { t: e.atS + e.downS, host, state: 'up' });
  }
  if (f.mtbfHours !== undefined && f.mttrHours !== undefined) {
    const r = seededRandom(s.seed * 7919 + 17);
    const exp = (meanS: number) => -Math.log(1 - r.next()) * meanS;
    for (const host of hostNames) {
      let t = exp(f.mtbfHours * 3600);
      while (t < s.durationS) {
        const back = t + exp(f.mttrHours * 3600);
        out.push({ t, host, state: 'failed' }, { t: back, host, state: 'up' });
        t = back + exp(f.mtbfHours * 3600);
      }
    }
  }
  return out.sort((a, b) => a.t - b.t || (a.host < b.host ? -1 : 1));
}

const pad = (i: number, n: number) => String(i).padStart(Math.max(3, String(n).length), '0');

/**
 * Run a scenario through a port. The clock is the control plane's: the runner advances it, and the
 * control plane's loops (`startReplayLoops`) tick on it as it goes; without `loops` (a control plane
 * whose loops the runner cannot wait for) the runner asks for an automation round every interval.
 * @param onStep progress callback (step, total)
 */
export async function runOps(
  s: OpsScenario,
  port: OpsPort,
  clock: SimClock,
  loops?: ControllerManager,
  onStep?: (step: number, total: number) => void,
): Promise<OpsResult> {
  const start = clock.now();
  const w = opsWorkload(s);
  // No limit: the largest quota the API takes (QUOTA_MAX, src/api/schemas.ts).
  await port.setQuotas('admin', { vcpus: 1e9, memoryMiB: 2 ** 31 - 1, vms: 1e9, diskGiB: 2 ** 31 - 1 });
  for (const f of s.flavors) await port.createFlavor({ ...f, diskGiB: 10 });
  await port.createImage('tiny');
  const hostNames: string[] = [];
  const physical = new Map<string, number>();
  const totalHosts = s.hosts.reduce((a, h) => a + h.count, 0);
  for (const h of s.hosts) {
    const powerModel = typeof h.power === 'string' ? POWER_MODELS[h.power]! : h.power;
    for (let i = 0; i < h.count; i++) {
      const name = `${h.zone}-h${pad(hostNames.length + 1, totalHosts)}`;
      hostNames.push(name);
      physical.set(name, h.vcpus);
      await port.createHost({
        name,
        vcpus: h.vcpus,
        memoryMiB: h.memoryMiB,
        cpuRatio: h.cpuRatio,
        reservedMemoryMiB: 0,
        zone: h.zone,
        powerModel,
      });
    }
  }
  const V = w.names.length;
  const vmName = (i: number) => `vm-${pad(i, V)}`;
  const flavorOf = new Map<string, { vcpus: number }>();
  for (let i = 0; i < V; i++) {
    const f = s.flavors[i % s.flavors.length]!;
    flavorOf.set(vmName(i), f);
    // HA for a haShare of the VMs, spread evenly over the indices.
    const ha = Math.floor((i + 1) * s.haShare) > Math.floor(i * s.haShare);
    // No consolidation yet: VMs start spread out, as a data center that never consolidated.
    await port.createVm({ name: vmName(i), flavor: f.name, image: 'tiny', ha, preset: 'spread' });
  }
  await port.setAutomation(s.automation.level, {
    policy: s.automation.policy,
    spareHosts: s.automation.spareHosts,
    powerOffGraceS: s.automation.powerOffGraceS,
    maxMigrationsPerHost: s.automation.maxMigrationsPerHost,
    maxMigrationsPerCluster: s.automation.maxMigrationsPerCluster,
  });
  const failures = failureSchedule(s, hostNames);
  let nextFailure = 0;
  const steps = Math.floor(s.durationS / s.stepS);
  const series: SimSeries = {
    timeS: [],
    activeHosts: [],
    powerW: [],
    slaViolation: [],
    migrations: [],
    energyKWh: [],
  };
  let lastEvent = 0;
  const events: OpsEvent[] = [];
  // Every event since the last pull, page after page (a port may cap its pages) until one is empty.
  const pull = async () => {
    const out: OpsEvent[] = [];
    for (;;) {
      const e = await port.eventsAfter(lastEvent);
      if (!e.length) break;
      lastEvent = e[e.length - 1]!.id;
      out.push(...e);
    }
    events.push(...out);
    return out;
  };
  await pull();
  let energyJ = 0;
  let failuresDone = 0;
  for (let k = 0; k <= steps; k++) {
    const t = k * s.stepS;
    if (loops) await advanceWithControllers(clock, loops, start + t);
    else clock.advanceTo(start + t);
    while (nextFailure < failures.length && failures[nextFailure]!.t <= t) {
      const f = failures[nextFailure++]!;
      const cur = (await port.hosts()).find((h) => h.name === f.host)!;
      if (f.state === 'failed' && cur.state !== 'failed') {
        await port.setHostState(f.host, 'failed');
        failuresDone++;
      }
      if (f.state === 'up' && cur.state === 'failed') await port.setHostState(f.host, 'up');
    }
    const vms = await port.vms();
    const running = vms.filter((v) => v.state === 'running');
    const load = new Map<string, number>();
    for (const v of running) load.set(v.name, utilizationAt(w, Number(v.name.slice(3)), t));
    await port.recordMetrics(running.map((v) => ({ vm: v.name, cpu: load.get(v.name)! })));
    if (!loops && k > 0 && t % s.automation.intervalS === 0) await port.automationRound();
    const hosts = await port.hosts();
    const demand = new Map<string, number>();
    // With the loops, nothing moves a VM between the read above and here (a metrics report places
    // nothing): the same list serves. Without them, the automation round just ran: read again.
    for (const v of loops ? vms : await port.vms())
      if (v.state === 'running' && v.hostId)
        demand.set(
          v.hostId,
          (demand.get(v.hostId) ?? 0) + flavorOf.get(v.name)!.vcpus * (load.get(v.name) ?? 0),
        );
    const on = hosts.filter((h) => h.state === 'up' || h.state === 'maintenance');
    const overloaded = on.filter((h) => (demand.get(h.id) ?? 0) > physical.get(h.name)! + 1e-9).length;
    const powerW = hosts.reduce((a, h) => a + h.powerW, 0);
    if (k < steps) energyJ += powerW * s.stepS;
    const stepEvents = await pull();
    series.timeS.push(t);
    series.activeHosts.push(on.length);
    series.powerW.push(powerW);
    series.slaViolation.push(on.length ? overloaded / on.length : 0);
    series.migrations.push(stepEvents.filter((e) => e.kind === 'vm.migrated').length);
    series.energyKWh.push(energyJ / 3.6e6);
    onStep?.(k + 1, steps + 1);
  }
  const hosts = await port.hosts(),
    vms = await port.vms();
  const hostName = new Map(hosts.map((h) => [h.id, h.name]));
  const vmNames = new Map(vms.map((v) => [v.id, v.name]));
  const rel = (at: string) => Math.round(Date.parse(at) / 1000 - start);
  const actions: string[] = [];
  for (const e of events) {
    const vm = e.vmId ? (vmNames.get(e.vmId) ?? e.vmId) : '';
    const host = e.hostId ? (hostName.get(e.hostId) ?? e.hostId) : '';
    if (e.kind === 'vm.migrated')
      actions.push(`${rel(e.at)} migrate ${vm} ${String(e.detail.from)}→${String(e.detail.to)}`);
    else if (e.kind === 'host.powered-off' || e.kind === 'host.powered-on')
      actions.push(`${rel(e.at)} ${e.kind.slice(5)} ${host}`);
    else if (e.kind === 'vm.ha.restarted')
      actions.push(`${rel(e.at)} ha-restart ${vm} on ${String(e.detail.on)}`);
    else if (e.kind === 'vm.lost') actions.push(`${rel(e.at)} lost ${vm}`);
    else if (e.kind === 'host.state' && (e.detail.to === 'failed' || e.detail.from === 'failed'))
      actions.push(`${rel(e.at)} host ${host} ${String(e.detail.to)}`);
  }
  const count = (k: string) => events.filter((e) => e.kind === k).length;
  const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / Math.max(1, xs.length);
  return {
    scenario: s.name,
    policy: s.automation.policy,
    hosts: hostNames.length,
    vms: V,
    energyKWh: energyJ / 3.6e6,
    migrations: count('vm.migrated'),
    powerOffs: count('host.powered-off'),
    powerOns: count('host.powered-on'),
    failures: failuresDone,
    haRestarts: count('vm.ha.restarted'),
    lostVms: count('vm.lost'),
    overloadShare: mean(series.slaViolation),
    meanActiveHosts: mean(series.activeHosts),
    plans: count('plan.applied') + count('plan.failed'),
    series,
    actions,
  };
}

/** `nubis sim --engine control-plane`: a fresh in-memory control plane on simulated hosts. */
export async function runOpsInProcess(
  s: OpsScenario,
  onStep?: (step: number, total: number) => void,
): Promise<OpsResult> {
  const db = await openStore(':memory:');
  try {
    const clock = new SimClock(Date.UTC(2026, 0, 1) / 1000);
    const cp = new ControlPlane({
      db,
      clock,
      hostDrivers: createHostDrivers({ sim: new SimHypervisorDriver(clock) }),
      simBootS: s.power.bootS,
      // Ids from the scenario's seed: the same replay gives the same ids.
      ids: seededIds(seededRandom(s.seed * 31 + 7)),
    });
    const admin = (await cp.authenticate((await cp.bootstrap())!))!;
    const loops = await startReplayLoops(cp, s, clock);
    try {
      return await runOps(s, methodPort(cp, admin), clock, loops, onStep);
    } finally {
      await loops.stop();
    }
  } finally {
    await db.destroy();
  }
}
