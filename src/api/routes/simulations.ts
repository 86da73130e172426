/** Saved and running simulation runs (the dashboard's Simulations page). */
import { z } from 'zod';
import { ControlError } from '../../control/errors.ts';
import { authorize } from '../../control/authz.ts';
import { listRoute } from '../pagination.ts';
import type { RouteModule } from '../route-def.ts';
import { idParam } from '../schemas.ts';
import { getRun, listRuns, startRun } from '../simulations.ts';

/** GET/POST /v1/simulations, GET /v1/simulations/:id. */
export const simulationRoutes: RouteModule = (route, { opts }) => {
  const sims = () => {
    if (!opts.simulations)
      throw new ControlError('NOT_FOUND', 'This server keeps no simulation runs (start it with nubis serve)');
    return opts.simulations;
  };
  listRoute(route, {
    url: '/v1/simulations',
    summary: 'Saved and running simulation runs (admin, operator)',
    tag: 'simulations',
    list: async ({ p }) => {
      authorize(p, 'simulation:read');
      return listRuns(sims());
    },
  });
  route({
    method: 'GET',
    url: '/v1/simulations/:id',
    summary: 'One run: result rows and per-step series (admin, operator)',
    tag: 'simulations',
    params: idParam,
    handler: async ({ p, params }) => {
      authorize(p, 'simulation:read');
      return getRun(sims(), params.id);
    },
  });
  route({
    method: 'POST',
    url: '/v1/simulations',
    summary:
      'Start a nubis sim run on the server (admin, operator): a preset or named scenario file, a named trace folder, within the limits (429 when enough run already); poll GET /v1/simulations/:name',
    tag: 'simulations',
    status: 202,
    body: z
      .object({
        name: z.string().optional(),
        scenario: z.string().min(1),
        trace: z.string().optional(),
        policies: z.array(z.string().min(1)).min(1).max(12),
        mode: z.enum(['cloudsim', 'default']).optional(),
        limitVms: z.number().int().positive().optional(),
        hosts: z.number().int().positive().optional(),
        engine: z.enum(['simulator', 'control-plane']).optional(),
      })
      .strict(),
    handler: async ({ p, body }) => {
      authorize(p, 'simulation:run');
      return startRun(sims(), body, new Date());
    },
  });
};
