/** The OpenAPI 3.1 document of the route table (served at /openapi.json). */
import { z } from 'zod';
import type { RouteDef } from './route-def.ts';

/** Builds the OpenAPI 3.1 document: one operation per route, schemas from its zod body and query. */
export function openApi(routes: readonly RouteDef[]) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.url.replace(/:(\w+)/g, '{$1}');
    const params = [...r.url.matchAll(/:(\w+)/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    const q = r.query
      ? (z.toJSONSchema(r.query, { io: 'input' }) as { properties?: Record<string, unknown> })
      : undefined;
    for (const [k, v] of Object.entries(q?.properties ?? {}))
      params.push({ name: k, in: 'query', required: false, schema: v as { type: string } });
    (paths[path] ??= {})[r.method.toLowerCase()] = {
      summary: r.summary,
      tags: [r.tag],
      ...(r.open ? { security: [] } : {}),
      ...(params.length ? { parameters: params } : {}),
      ...(r.body
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: z.toJSONSchema(r.body, { io: 'input' }) } },
            },
          }
        : {}),
      responses: {
        [String(r.status ?? 200)]: { description: 'OK' },
        default: {
          description: 'Error',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'nubis control plane', version: '0.1.0' },
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['code', 'message'],
          properties: { code: { type: 'string' }, message: { type: 'string' } },
        },
      },
    },
    paths,
  };
}
