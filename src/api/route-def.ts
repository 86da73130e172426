/**
 * The shape of one API route and what route modules share: every route is declared once in a table
 * (method, URL, zod schemas, summary, tag); `server.ts` wires the table into fastify and into the
 * OpenAPI document. Route modules (`routes/*.ts`) only add entries.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { ControlPlane, Principal } from '../control/control-plane.ts';
import { ControlError } from '../control/errors.ts';
import type { SimulationsOptions } from './simulations.ts';

/** Options of the API (see `buildApi`). */
export interface ApiOptions {
  /** The dashboard's built files (web/dist), served at `/`. */
  web?: string;
  /** Saved simulation runs and how to start new ones. */
  simulations?: SimulationsOptions;
  /** Requests per token (per client address without one) per window; off when unset (`nubis serve` sets it). */
  rateLimit?: { max: number; windowMs?: number };
  /**
   * Serve HTTPS: PEM certificate and key; with `clientCa`, mutual TLS for the agents' routes
   * (`/v1/agents/*`: enrollment and heartbeats need a client certificate from that CA; people's
   * browsers and CLIs are asked for one but need none, their bearer token is enough).
   */
  https?: { cert: string; key: string; clientCa?: string };
  /** Where server faults go, one object per fault (default: a JSON line on stderr). */
  log?: (line: Record<string, unknown>) => void;
  /**
   * The URL clients reach nubis at (e.g. `https://cloud.example.org`), for the absolute URLs of the
   * OpenStack catalog and links; by default they are built from each request's Host header.
   */
  publicUrl?: string;
}

/** What a handler receives: the caller, the parsed body, query and path parameters, and the raw request. */
export interface RouteContext {
  p: Principal;
  /* eslint-disable @typescript-eslint/no-explicit-any -- bodies are typed by their zod schemas */
  body: any;
  query: any;
  params: any;
  /* eslint-enable @typescript-eslint/no-explicit-any */
  req: FastifyRequest;
  reply: FastifyReply;
}

/** One route of the table. */
export interface RouteDef {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  summary: string;
  /** OpenAPI tag (the resource). */
  tag: string;
  /** No token needed. */
  open?: boolean;
  body?: z.ZodType;
  query?: z.ZodType;
  params?: z.ZodType;
  /** Success status (200 unless set). */
  status?: number;
  /** Largest body accepted, bytes (the server's default, 1 MiB, unless set). */
  bodyLimit?: number;
  /** Returns the JSON answer, `undefined` for an empty one, or `ctx.reply` when it sent its own (a stream). */
  handler: (ctx: RouteContext) => Promise<unknown>;
}

/** Adds a route to the table. */
export type AddRoute = (r: RouteDef) => void;

/** What route modules are given. */
export interface RouteDeps {
  cp: ControlPlane;
  opts: ApiOptions;
}

/**
 * A route module: registers its routes into the table.
 * @example export const eventRoutes: RouteModule = (route, { cp }) => { route({ ... }); };
 */
export type RouteModule = (route: AddRoute, deps: RouteDeps) => void;

/**
 * The request's Idempotency-Key header, validated (1-200 printable ASCII characters).
 * @throws ControlError BAD_REQUEST when malformed.
 */
export function idemKey(req: FastifyRequest): string | undefined {
  const k = req.headers['idempotency-key'];
  if (k === undefined) return undefined;
  const s = Array.isArray(k) ? k[0]! : k;
  if (!/^[\x21-\x7e]{1,200}$/.test(s))
    throw new ControlError('BAD_REQUEST', 'Idempotency-Key must be 1-200 printable ASCII characters');
  return s;
}
