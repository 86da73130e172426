/** Every route module of the API, in the order their routes appear in /openapi.json. */
import type { RouteModule } from '../route-def.ts';
import { agentRoutes } from './agents.ts';
import { automationRoutes } from './automation.ts';
import { billingRoutes } from './billing.ts';
import { catalogRoutes } from './catalog.ts';
import { constraintRoutes } from './constraints.ts';
import { eventRoutes } from './events.ts';
import { hostRoutes } from './hosts.ts';
import { metaRoutes } from './meta.ts';
import { metricsEnergyRoutes } from './metrics-energy.ts';
import { operationRoutes } from './operations.ts';
import { planRoutes } from './plans.ts';
import { scalingGroupRoutes } from './scaling-groups.ts';
import { securityRoutes } from './security.ts';
import { serverGroupRoutes } from './server-groups.ts';
import { settingsRoutes } from './settings.ts';
import { simulationRoutes } from './simulations.ts';
import { tenantRoutes } from './tenants.ts';
import { userTokenRoutes } from './users-tokens.ts';
import { vmConsoleRoutes } from './vm-console.ts';
import { vmRoutes } from './vms.ts';
import { networkRoutes } from './networks.ts';
import { securityGroupRoutes } from './security-groups.ts';
import { keypairRoutes } from './keypairs.ts';
import { floatingIpRoutes } from './floating-ips.ts';
import { imageRoutes } from './images.ts';
import { volumeRoutes } from './volumes.ts';
import { summaryRoutes } from './summary.ts';

/** Add a module here to serve its routes (and list them in the OpenAPI document). */
export const ROUTE_MODULES: readonly RouteModule[] = [
  metaRoutes,
  summaryRoutes,
  simulationRoutes,
  tenantRoutes,
  userTokenRoutes,
  hostRoutes,
  metricsEnergyRoutes,
  settingsRoutes,
  catalogRoutes,
  imageRoutes,
  serverGroupRoutes,
  constraintRoutes,
  vmRoutes,
  networkRoutes,
  securityGroupRoutes,
  keypairRoutes,
  floatingIpRoutes,
  volumeRoutes,
  vmConsoleRoutes,
  agentRoutes,
  planRoutes,
  automationRoutes,
  scalingGroupRoutes,
  operationRoutes,
  billingRoutes,
  eventRoutes,
  securityRoutes,
];
