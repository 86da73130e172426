/** Every resource's commands. To add a resource, write `commands/<resource>.ts` and list it here. */
import type { Command } from 'commander';
import { automationCommands } from './automation.ts';
import { billingCommands } from './billing.ts';
import type { CommandModule } from './common.ts';
import { constraintCommands } from './constraint.ts';
import { energyCommands } from './energy.ts';
import { eventCommands } from './event.ts';
import { flavorCommands } from './flavor.ts';
import { hostCommands } from './host.ts';
import { imageCommands } from './image.ts';
import { loginCommands } from './login.ts';
import { metaCommands } from './meta.ts';
import { metricsCommands } from './metrics.ts';
import { operationCommands } from './operation.ts';
import { planCommands } from './plan.ts';
import { scalingGroupCommands } from './scaling-group.ts';
import { securityCommands } from './security.ts';
import { serverGroupCommands } from './server-group.ts';
import { settingsCommands } from './settings.ts';
import { simulationCommands } from './simulation.ts';
import { tenantCommands } from './tenant.ts';
import { tokenCommands } from './token.ts';
import { userCommands } from './user.ts';
import { vmCommands } from './vm.ts';
import { networkCommands } from './network.ts';
import { accessCommands } from './access.ts';
import { volumeCommands } from './volume.ts';

const MODULES: CommandModule[] = [
  vmCommands,
  networkCommands,
  accessCommands,
  hostCommands,
  flavorCommands,
  imageCommands,
  volumeCommands,
  serverGroupCommands,
  constraintCommands,
  scalingGroupCommands,
  planCommands,
  automationCommands,
  operationCommands,
  eventCommands,
  securityCommands,
  metricsCommands,
  billingCommands,
  energyCommands,
  tenantCommands,
  userCommands,
  tokenCommands,
  settingsCommands,
  simulationCommands,
  metaCommands,
  loginCommands,
];

/** Registers the control plane's commands (an API client, like the dashboard) on the program. */
export function cloudCommands(program: Command): void {
  for (const m of MODULES) m(program);
}
