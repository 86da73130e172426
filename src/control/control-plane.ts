/**
 * The control plane's facade: builds the shared context and one instance of each service, and
 * exposes their public operations under the names the API, the CLI, the simulator and the tests
 * use (`cp.createVm(...)`). Every state change is one transaction; the hypervisor work happens
 * through drivers after the record is safe. The services live in the folders next to this file
 * (see src/control/README.md).
 */
import { MemoryProfiles } from './memory/profile-store.ts';
import { MemoryReads } from './memory/memory-reads.ts';
import type { HostDrivers } from '../core/host-driver.ts';
import { DriverError } from '../core/hypervisor.ts';
import type { Clock } from '../runtime/clock.ts';
import { cryptoIds, type IdSource } from '../runtime/ids.ts';
import type { ControlContext, OperationOwners } from './context.ts';
import type { Db } from './store/open-store.ts';
import { TenancyService } from './tenancy/tenancy-service.ts';
import { HostInventory } from './inventory/hosts.ts';
import { Catalog } from './inventory/catalog.ts';
import { CatalogEdits } from './inventory/catalog-edits.ts';
import { HostEdits } from './inventory/host-edits.ts';
import { TenancyAdmin } from './tenancy/tenancy-admin.ts';
import { Tariffs } from './billing/tariffs.ts';
import { VmSnapshots } from './compute/vm-snapshots.ts';
import { VmConsole } from './compute/vm-console.ts';
import { OverviewService } from './inventory/overview.ts';
import { Scheduler } from './scheduler/scheduler.ts';
import { ConstraintReader } from './constraints/constraint-reader.ts';
import { ConstraintsService } from './constraints/constraints-service.ts';
import { Claims } from './scheduler/claims.ts';
import { PowerOn } from './scheduler/power-on.ts';
import { VmReads } from './compute/vm-reads.ts';
import { CreateVm } from './compute/create-vm.ts';
import { VmActions } from './compute/vm-actions.ts';
import { VmAttributes } from './compute/vm-attributes.ts';
import { Resize } from './compute/resize.ts';
import { Migrate } from './compute/migrate.ts';
import { Drivers } from './compute/drivers.ts';
import { HighAvailability } from './compute/ha.ts';
import { Restarts } from './compute/restarts.ts';
import { Operations } from './operations/operations.ts';
import { OperationRecords } from './operations/operation-records.ts';
import { Reconciler } from './operations/reconciler.ts';
import { EventLog } from './events/event-log.ts';
import { Enrollment } from './agents/enrollment.ts';
import { Heartbeats } from './agents/heartbeat.ts';
import { PlanClusterReader } from './plans/plan-cluster.ts';
import { Plans } from './plans/plans-service.ts';
import { PlanApplier } from './plans/apply-plan.ts';
import { Automation } from './automation/automation.ts';
import { ScalingGroups } from './autoscaling/scaling-groups.ts';
import { Metrics } from './telemetry/metrics.ts';
import { Energy } from './telemetry/energy.ts';
import { PowerHosts } from './power/power-hosts.ts';
import { Metering } from './billing/metering.ts';
import { UsageReports } from './billing/usage.ts';
import { Invoices } from './billing/invoices.ts';
import { Networks } from './network/networks.ts';
import { Ports } from './network/ports.ts';
import { SecurityGroups } from './network/security-groups.ts';
import { Subnets } from './network/subnets.ts';
import { NetworkPush } from './network/network-push.ts';
import { Keypairs } from './network/keypairs.ts';
import { FloatingIps } from './network/floating-ips.ts';
import type { ImageFiles } from './storage/image-files.ts';
import type { MilpSolver } from '../policies/optimize/solver-port.ts';
import { ImageRegistry } from './storage/image-registry.ts';
import { ImageMembers } from './storage/image-members.ts';
import { ImageRecords } from './storage/image-records.ts';
import { StoragePools } from './storage/pools.ts';
import { VolumeDetails } from './storage/volume-details.ts';
import { Volumes } from './storage/volumes.ts';
import { VolumeOps } from './storage/volume-ops.ts';
import { VolumeSnapshots } from './storage/volume-snapshots.ts';

export { ROLES, hashToken, type Role, type Principal } from './principal.ts';
export { DEFAULT_QUOTAS, type Quotas } from './tenancy/tenancy-service.ts';
export type { VmView } from './compute/vm-reads.ts';
export { ASSUMED_VM_UTILIZATION, vmPowerW, parsePower } from './telemetry/energy.ts';
export type { AutomationLevel, AutomationSettings } from './automation/automation.ts';
export {
  DEFAULT_TARIFF,
  SHARED_NETWORK,
  reconcileSimHosts,
  seedDefaultTariff,
  seedDemo,
  seedSharedNetwork,
} from './seed.ts';

export interface ControlPlaneOptions {
  db: Db;
  clock: Clock;
  /** Where ids and tokens come from (the OS's CSPRNG unless given; a seeded source in replays). */
  ids?: IdSource;
  /** The driver of each host (createHostDrivers() in src/drivers); without it no host can be reached. */
  hostDrivers?: HostDrivers;
  /** Seconds a simulated host takes to switch on (0: at once). Real hosts are up when their agent reports. */
  simBootS?: number;
  /** Called when an operation completes a step (crash-recovery tests stop the process there). */
  onStep?: (step: string, kind: string) => void;
  /** Where uploaded images are kept (createImageFiles() in src/drivers); without it uploads are refused. */
  imageFiles?: ImageFiles;
  /** Largest image upload accepted, in bytes (default 20 GiB). */
  imageMaxBytes?: number;
  /** The exact optimizer's MILP solver (highsSolver() in src/drivers/highs); without it `--policy optimal` is refused. */
  milpSolver?: MilpSolver;
  /** Several API processes on PostgreSQL: the operations the other processes execute (src/control/leader/). */
  operationOwners?: OperationOwners;
}

/** Without host drivers (tools that only read or write records): every host is refused. */
const NO_HOSTS: HostDrivers = {
  forHost(h) {
    throw new DriverError('BACKEND', `No host drivers configured: cannot reach host "${h.name}"`);
  },
};

export class ControlPlane {
  /** What every service shares (store, clock, ids, drivers). */
  readonly ctx: ControlContext;
  /** Drains started by health reports (awaitable by tests and shutdown). */
  readonly draining = new Map<string, Promise<unknown>>();

  readonly tenancy = new TenancyService(this);
  readonly hosts = new HostInventory(this);
  readonly catalog = new Catalog(this);
  /** Editing and deleting inventory (inventory/host-edits.ts, inventory/catalog-edits.ts, tenancy/tenancy-admin.ts, billing/tariffs.ts). */
  readonly hostEdits = new HostEdits(this);
  readonly catalogEdits = new CatalogEdits(this);
  readonly tenancyAdmin = new TenancyAdmin(this);
  readonly tariffs = new Tariffs(this);
  readonly snapshots = new VmSnapshots(this);
  readonly console = new VmConsole(this);
  readonly summary = new OverviewService(this);
  readonly scheduler = new Scheduler(this);
  readonly constraintReader = new ConstraintReader(this);
  readonly constraints = new ConstraintsService(this);
  readonly claims = new Claims(this);
  readonly memoryProfiles = new MemoryProfiles(this);
  readonly memoryReads = new MemoryReads(this);
  readonly powerOn = new PowerOn(this);
  readonly vmReads = new VmReads(this);
  readonly vmCreate = new CreateVm(this);
  readonly vmActions = new VmActions(this);
  /** Descriptive attributes of a VM (metadata, description, lock...: Nova's server fields). */
  readonly vmAttributes = new VmAttributes(this);
  readonly resizes = new Resize(this);
  readonly migrations = new Migrate(this);
  readonly drivers = new Drivers(this);
  readonly ha = new HighAvailability(this);
  readonly restarts = new Restarts(this);
  readonly operations = new Operations(this);
  readonly opRecords = new OperationRecords(this);
  readonly reconciler = new Reconciler(this);
  readonly events = new EventLog(this);
  readonly enrollment = new Enrollment(this);
  readonly heartbeats = new Heartbeats(this);
  readonly clusterReader = new PlanClusterReader(this);
  readonly plans = new Plans(this);
  readonly planApply = new PlanApplier(this);
  readonly automation = new Automation(this);
  readonly scaling = new ScalingGroups(this);
  readonly metrics = new Metrics(this);
  readonly energy = new Energy(this);
  readonly power = new PowerHosts(this);
  readonly metering = new Metering(this);
  readonly usageReports = new UsageReports(this);
  readonly invoices = new Invoices(this);
  /** Networks, ports, security groups, floating IPs, key pairs and pushing hosts their network state (network/). */
  readonly networks = new Networks(this);
  readonly subnets = new Subnets(this);
  readonly ports = new Ports(this);
  readonly securityGroups = new SecurityGroups(this);
  readonly networkPush = new NetworkPush(this);
  readonly keypairs = new Keypairs(this);
  readonly floatingIps = new FloatingIps(this);
  /** The image registry, storage pools and volumes (storage/). */
  readonly images = new ImageRegistry(this);
  /** Glance's view of the image records (registered before their data, tags, properties...). */
  readonly imageRecords = new ImageRecords(this);
  readonly imageMembers = new ImageMembers(this);
  readonly pools = new StoragePools(this);
  readonly volumes = new Volumes(this);
  readonly volumeOps = new VolumeOps(this);
  readonly volumeSnapshots = new VolumeSnapshots(this);
  readonly volumeDetails = new VolumeDetails(this);

  constructor(o: ControlPlaneOptions) {
    this.ctx = { ...o, ids: o.ids ?? cryptoIds(), hostDrivers: o.hostDrivers ?? NO_HOSTS };
  }

  get db() {
    return this.ctx.db;
  }

  // ---- tenancy (tenancy/tenancy-service.ts)
  bootstrap(...a: Parameters<TenancyService['bootstrap']>) {
    return this.tenancy.bootstrap(...a);
  }
  authenticate(...a: Parameters<TenancyService['authenticate']>) {
    return this.tenancy.authenticate(...a);
  }
  createTenant(...a: Parameters<TenancyService['createTenant']>) {
    return this.tenancy.createTenant(...a);
  }
  setQuotas(...a: Parameters<TenancyService['setQuotas']>) {
    return this.tenancy.setQuotas(...a);
  }
  listTenants(...a: Parameters<TenancyService['listTenants']>) {
    return this.tenancy.listTenants(...a);
  }
  createUser(...a: Parameters<TenancyService['createUser']>) {
    return this.tenancy.createUser(...a);
  }
  createToken(...a: Parameters<TenancyService['createToken']>) {
    return this.tenancy.createToken(...a);
  }
  revokeToken(...a: Parameters<TenancyService['revokeToken']>) {
    return this.tenancy.revokeToken(...a);
  }
  // ---- hosts (inventory/hosts.ts)
  createHost(...a: Parameters<HostInventory['createHost']>) {
    return this.hosts.createHost(...a);
  }
  listHosts(...a: Parameters<HostInventory['listHosts']>) {
    return this.hosts.listHosts(...a);
  }
  pageHosts(...a: Parameters<HostInventory['pageHosts']>) {
    return this.hosts.pageHosts(...a);
  }
  getHost(...a: Parameters<HostInventory['getHost']>) {
    return this.hosts.getHost(...a);
  }
  setHostState(...a: Parameters<HostInventory['setHostState']>) {
    return this.hosts.setHostState(...a);
  }
  // ---- catalog (inventory/catalog.ts)
  createFlavor(...a: Parameters<Catalog['createFlavor']>) {
    return this.catalog.createFlavor(...a);
  }
  listFlavors(...a: Parameters<Catalog['listFlavors']>) {
    return this.catalog.listFlavors(...a);
  }
  createImage(...a: Parameters<Catalog['createImage']>) {
    return this.catalog.createImage(...a);
  }
  listImages(...a: Parameters<Catalog['listImages']>) {
    return this.catalog.listImages(...a);
  }
  createServerGroup(...a: Parameters<Catalog['createServerGroup']>) {
    return this.catalog.createServerGroup(...a);
  }
  listServerGroups(...a: Parameters<Catalog['listServerGroups']>) {
    return this.catalog.listServerGroups(...a);
  }
  // ---- summary (inventory/overview.ts)
  overview(...a: Parameters<OverviewService['overview']>) {
    return this.summary.overview(...a);
  }
  metricsSnapshot(...a: Parameters<OverviewService['metricsSnapshot']>) {
    return this.summary.metricsSnapshot(...a);
  }
  // ---- scheduler (scheduler/scheduler.ts)
  placement(...a: Parameters<Scheduler['placement']>) {
    return this.scheduler.placement(...a);
  }
  // ---- vmReads (compute/vm-reads.ts)
  getVm(...a: Parameters<VmReads['getVm']>) {
    return this.vmReads.getVm(...a);
  }
  listVms(...a: Parameters<VmReads['listVms']>) {
    return this.vmReads.listVms(...a);
  }
  pageVms(...a: Parameters<VmReads['pageVms']>) {
    return this.vmReads.pageVms(...a);
  }
  // ---- vmCreate (compute/create-vm.ts)
  createVm(...a: Parameters<CreateVm['createVm']>) {
    return this.vmCreate.createVm(...a);
  }
  // ---- vmActions (compute/vm-actions.ts)
  vmAction(...a: Parameters<VmActions['vmAction']>) {
    return this.vmActions.vmAction(...a);
  }
  // ---- migrations (compute/migrate.ts)
  migrateVm(...a: Parameters<Migrate['migrateVm']>) {
    return this.migrations.migrateVm(...a);
  }
  // ---- ha (compute/ha.ts)
  evacuate(...a: Parameters<HighAvailability['evacuate']>) {
    return this.ha.evacuate(...a);
  }
  setHaFailoverHosts(...a: Parameters<HighAvailability['setHaFailoverHosts']>) {
    return this.ha.setHaFailoverHosts(...a);
  }
  checkHeartbeats(...a: Parameters<HighAvailability['checkHeartbeats']>) {
    return this.ha.checkHeartbeats(...a);
  }
  // ---- operations (operations/operations.ts)
  getOperation(...a: Parameters<Operations['getOperation']>) {
    return this.operations.getOperation(...a);
  }
  /** Finish or roll back interrupted operations and repair claims and usage (operations/reconciler.ts). */
  reconcile() {
    return this.reconciler.reconcile();
  }
  // ---- events (events/event-log.ts)
  listEvents(...a: Parameters<EventLog['listEvents']>) {
    return this.events.listEvents(...a);
  }
  pageEvents(...a: Parameters<EventLog['pageEvents']>) {
    return this.events.pageEvents(...a);
  }
  // ---- heartbeats (agents/heartbeat.ts)
  heartbeat(...a: Parameters<Heartbeats['heartbeat']>) {
    return this.heartbeats.heartbeat(...a);
  }
  // ---- plans (plans/plans-service.ts)
  auditPlan(...a: Parameters<Plans['auditPlan']>) {
    return this.plans.auditPlan(...a);
  }
  listPlans(...a: Parameters<Plans['listPlans']>) {
    return this.plans.listPlans(...a);
  }
  getPlan(...a: Parameters<Plans['getPlan']>) {
    return this.plans.getPlan(...a);
  }
  discardPlan(...a: Parameters<Plans['discardPlan']>) {
    return this.plans.discardPlan(...a);
  }
  applyPlan(...a: Parameters<Plans['applyPlan']>) {
    return this.plans.applyPlan(...a);
  }
  drainHost(...a: Parameters<Plans['drainHost']>) {
    return this.plans.drainHost(...a);
  }
  // ---- automation (automation/automation.ts)
  automationSettings(...a: Parameters<Automation['automationSettings']>) {
    return this.automation.automationSettings(...a);
  }
  listAutomation(...a: Parameters<Automation['listAutomation']>) {
    return this.automation.listAutomation(...a);
  }
  setAutomation(...a: Parameters<Automation['setAutomation']>) {
    return this.automation.setAutomation(...a);
  }
  automationRound(...a: Parameters<Automation['automationRound']>) {
    return this.automation.automationRound(...a);
  }
  // ---- scaling (autoscaling/scaling-groups.ts)
  getScalingGroup(...a: Parameters<ScalingGroups['getScalingGroup']>) {
    return this.scaling.getScalingGroup(...a);
  }
  createScalingGroup(...a: Parameters<ScalingGroups['createScalingGroup']>) {
    return this.scaling.createScalingGroup(...a);
  }
  reportGroupMetric(...a: Parameters<ScalingGroups['reportGroupMetric']>) {
    return this.scaling.reportGroupMetric(...a);
  }
  // ---- metrics (telemetry/metrics.ts)
  recordMetrics(...a: Parameters<Metrics['recordMetrics']>) {
    return this.metrics.recordMetrics(...a);
  }
  // ---- energy (telemetry/energy.ts)
  integrateEnergy(...a: Parameters<Energy['integrateEnergy']>) {
    return this.energy.integrateEnergy(...a);
  }
  promoteBooted(...a: Parameters<Energy['promoteBooted']>) {
    return this.energy.promoteBooted(...a);
  }
  energyReport(...a: Parameters<Energy['energyReport']>) {
    return this.energy.energyReport(...a);
  }
  pue(...a: Parameters<Energy['pue']>) {
    return this.energy.pue(...a);
  }
  setPue(...a: Parameters<Energy['setPue']>) {
    return this.energy.setPue(...a);
  }
  // ---- power (power/power-hosts.ts)
  powerHost(...a: Parameters<PowerHosts['powerHost']>) {
    return this.power.powerHost(...a);
  }
  // ---- usageReports (billing/usage.ts)
  usage(...a: Parameters<UsageReports['usage']>) {
    return this.usageReports.usage(...a);
  }
  usageReport(...a: Parameters<UsageReports['usageReport']>) {
    return this.usageReports.usageReport(...a);
  }
  usageByDay(...a: Parameters<UsageReports['usageByDay']>) {
    return this.usageReports.usageByDay(...a);
  }
  // ---- invoices (billing/invoices.ts)
  createTariff(...a: Parameters<Invoices['createTariff']>) {
    return this.invoices.createTariff(...a);
  }
  listTariffs(...a: Parameters<Invoices['listTariffs']>) {
    return this.invoices.listTariffs(...a);
  }
  invoice(...a: Parameters<Invoices['invoice']>) {
    return this.invoices.invoice(...a);
  }
}
