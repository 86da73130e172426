/** Operations (the record of a multi-step change) for polling. */
import type { RouteModule } from '../route-def.ts';
import { idParam } from '../schemas.ts';

/** GET /v1/operations/:id. */
export const operationRoutes: RouteModule = (route, { cp }) => {
  route({
    method: 'GET',
    url: '/v1/operations/:id',
    summary: 'Poll an operation',
    tag: 'operations',
    params: idParam,
    handler: async ({ p, params }) => cp.getOperation(p, params.id),
  });
};
