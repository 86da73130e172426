/**
 * The typed HTTP client of the nubis API: one method per operation, grouped per resource like the
 * API's route modules (`client.vms.create(...)`, `client.hosts.list()`, ...). Shared by the CLI, the
 * dashboard and the simulator's HTTP port. Every failure is an `ApiError`.
 *
 * @example
 * const client = new NubisClient({ baseUrl: 'http://127.0.0.1:8080', token: process.env.NUBIS_TOKEN });
 * const op = await client.vms.create({ name: 'web-1', flavor: 'm1.small', image: 'tiny' }, { idempotencyKey: 'k1' });
 */
import { Http, type ClientOptions } from './http.ts';
import { agentsApi } from './resources/agents.ts';
import { automationApi } from './resources/automation.ts';
import { invoicesApi, tariffsApi, usageApi } from './resources/billing.ts';
import { flavorsApi, imagesApi } from './resources/catalog.ts';
import { imageDataApi, storagePoolsApi, volumesApi } from './resources/storage.ts';
import { constraintsApi } from './resources/constraints.ts';
import { eventsApi } from './resources/events.ts';
import { hostsApi } from './resources/hosts.ts';
import { metaApi } from './resources/meta.ts';
import { energyApi, metricsApi } from './resources/metrics-energy.ts';
import { operationsApi } from './resources/operations.ts';
import { plansApi } from './resources/plans.ts';
import { scalingGroupsApi } from './resources/scaling-groups.ts';
import { securityEventsApi } from './resources/security.ts';
import { serverGroupsApi } from './resources/server-groups.ts';
import { settingsApi } from './resources/settings.ts';
import { simulationsApi } from './resources/simulations.ts';
import { tenantsApi } from './resources/tenants.ts';
import { tokensApi, usersApi } from './resources/users-tokens.ts';
import { vmsApi } from './resources/vms.ts';
import {
  floatingIpsApi,
  keypairsApi,
  networksApi,
  portsApi,
  securityGroupsApi,
} from './resources/networks.ts';

/** A client of one control plane. To add an operation, add a method to its resource in `resources/`. */
export class NubisClient {
  /** The transport, for calls no method covers yet. */
  readonly http: Http;
  readonly meta;
  readonly tenants;
  readonly users;
  readonly tokens;
  readonly hosts;
  readonly flavors;
  readonly images;
  readonly serverGroups;
  readonly constraints;
  readonly vms;
  readonly operations;
  readonly plans;
  readonly automation;
  readonly scalingGroups;
  readonly settings;
  readonly metrics;
  readonly energy;
  readonly usage;
  readonly tariffs;
  readonly invoices;
  readonly events;
  readonly securityEvents;
  readonly agents;
  readonly simulations;
  readonly networks;
  readonly ports;
  readonly securityGroups;
  readonly keypairs;
  readonly floatingIps;
  /** Image uploads and downloads, storage pools, volumes. */
  readonly imageData;
  readonly storagePools;
  readonly volumes;

  constructor(o: ClientOptions = {}) {
    const http = (this.http = new Http(o));
    this.meta = metaApi(http);
    this.tenants = tenantsApi(http);
    this.users = usersApi(http);
    this.tokens = tokensApi(http);
    this.hosts = hostsApi(http);
    this.flavors = flavorsApi(http);
    this.images = imagesApi(http);
    this.serverGroups = serverGroupsApi(http);
    this.constraints = constraintsApi(http);
    this.vms = vmsApi(http);
    this.networks = networksApi(http);
    this.ports = portsApi(http);
    this.securityGroups = securityGroupsApi(http);
    this.keypairs = keypairsApi(http);
    this.floatingIps = floatingIpsApi(http);
    this.imageData = imageDataApi(http);
    this.storagePools = storagePoolsApi(http);
    this.volumes = volumesApi(http);
    this.operations = operationsApi(http);
    this.plans = plansApi(http);
    this.automation = automationApi(http);
    this.scalingGroups = scalingGroupsApi(http);
    this.settings = settingsApi(http);
    this.metrics = metricsApi(http);
    this.energy = energyApi(http);
    this.usage = usageApi(http);
    this.tariffs = tariffsApi(http);
    this.invoices = invoicesApi(http);
    this.events = eventsApi(http);
    this.securityEvents = securityEventsApi(http);
    this.agents = agentsApi(http);
    this.simulations = simulationsApi(http);
  }
}
