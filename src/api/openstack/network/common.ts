/**
 * What every Neutron resource shares: list filters (any attribute, a repeated key ORs its values),
 * `fields=` projection, body checks, times in Neutron's format and bulk creation
 * (https://docs.openstack.org/api-ref/network/v2/: "Filtering and column selection", "Bulk create").
 */
import type { FastifyRequest } from 'fastify';
import { OsError } from '../frame.ts';

/** A Neutron resource as answered (attribute name → value). */
export type NeutronObject = Record<string, unknown>;

/** Query keys that are not filters (paging and sorting are accepted and ignored: one page, created order). */
const NOT_FILTERS = new Set(['fields', 'sort_key', 'sort_dir', 'limit', 'marker', 'page_reverse', 'verbose']);

/** The values a query key has (a repeated key gives several). */
function valuesOf(v: unknown): string[] {
  return (Array.isArray(v) ? v : [v]).map(String);
}

/** Whether an attribute's value matches a filter value as text (booleans as Neutron writes them). */
function matches(attr: unknown, want: string): boolean {
  if (attr === null || attr === undefined) return want === '' || want.toLowerCase() === 'none';
  if (typeof attr === 'boolean') return ['true', '1'].includes(want.toLowerCase()) === attr;
  if (Array.isArray(attr))
    return attr.some((x) => {
      if (x && typeof x === 'object') {
        // fixed_ips=ip_address=10.0.0.2 / subnet_id=…
        const m = /^([a-z_]+)=(.*)$/.exec(want);
        return m ? String((x as Record<string, unknown>)[m[1]!]) === m[2] : false;
      }
      return String(x) === want;
    });
  return String(attr) === want;
}

/** The objects of a list answer: filtered by the query's attributes, then projected on `fields`. */
export function listAnswer(req: FastifyRequest, objects: NeutronObject[]): NeutronObject[] {
  const q = (req.query ?? {}) as Record<string, unknown>;
  const filters = Object.entries(q).filter(([k]) => !NOT_FILTERS.has(k));
  const kept = objects.filter((o) =>
    filters.every(([k, v]) => !(k in o) || valuesOf(v).some((w) => matches(o[k], w))),
  );
  return kept.map((o) => project(req, o));
}

/** An object projected on the query's `fields` (all of it without). */
export function project(req: FastifyRequest, o: NeutronObject): NeutronObject {
  const f = ((req.query ?? {}) as Record<string, unknown>).fields;
  if (f === undefined) return o;
  const names = valuesOf(f).flatMap((x) => x.split(','));
  return Object.fromEntries(names.filter((n) => n in o).map((n) => [n, o[n]]));
}

/** A time as Neutron writes it (`2026-11-30T12:00:00Z`). */
export function neutronTime(iso: string | null | undefined): string | null {
  return iso ? iso.replace(/\.\d+Z$/, 'Z') : null;
}

/** The fields every resource has: ids of its project, description, times, revision, tags. */
export function standardAttrs(o: {
  tenantId: string;
  description: string;
  createdAt: string;
  updatedAt: string | null;
  revision: number;
}): NeutronObject {
  return {
    tenant_id: o.tenantId,
    project_id: o.tenantId,
    description: o.description,
    created_at: neutronTime(o.createdAt),
    updated_at: neutronTime(o.updatedAt ?? o.createdAt),
    revision_number: o.revision,
    tags: [],
  };
}

/** The resource objects of a create body: `{key: {...}}` or bulk `{plural: [{...}, ...]}`. */
export function createBodies(
  body: unknown,
  key: string,
  plural: string,
): { items: NeutronObject[]; bulk: boolean } {
  const b = (body ?? {}) as Record<string, unknown>;
  if (Array.isArray(b[plural])) {
    const items = b[plural] as unknown[];
    if (!items.length || !items.every(isObject))
      throw new OsError(400, `Invalid input: ${plural} must be a list of objects`);
    return { items: items as NeutronObject[], bulk: true };
  }
  if (!isObject(b[key]))
    throw new OsError(400, `Resource body required: {"${key}": {...}} or {"${plural}": [...]}`);
  return { items: [b[key] as NeutronObject], bulk: false };
}

/** The object of an update body `{key: {...}}`. */
export function updateBody(body: unknown, key: string): NeutronObject {
  const b = (body ?? {}) as Record<string, unknown>;
  if (!isObject(b[key])) throw new OsError(400, `Resource body required: {"${key}": {...}}`);
  return b[key] as NeutronObject;
}

function isObject(x: unknown): x is NeutronObject {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** An optional string attribute. @throws OsError 400 */
export function str(o: NeutronObject, k: string): string | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'string')
    throw new OsError(400, `Invalid input for ${k}. Reason: '${String(v)}' is not a valid string.`);
  return v;
}

/** An optional string attribute where null means absent (a rule's remote_group_id, remote_ip_prefix). */
export function strOrAbsent(o: NeutronObject, k: string): string | undefined {
  return o[k] === null ? undefined : str(o, k);
}

/** An optional boolean attribute (Neutron also takes "true"/"false"). @throws OsError 400 */
export function bool(o: NeutronObject, k: string): boolean | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|false|1|0)$/i.test(v)) return /^(true|1)$/i.test(v);
  throw new OsError(400, `Invalid input for ${k}. Reason: '${String(v)}' cannot be converted to boolean.`);
}

/** An optional list attribute. @throws OsError 400 */
export function list<T>(o: NeutronObject, k: string): T[] | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v))
    throw new OsError(400, `Invalid input for ${k}. Reason: '${String(v)}' is not a list.`);
  return v as T[];
}

/** The project an admin creates for (`project_id` or `tenant_id`), if given. */
export function projectOf(o: NeutronObject): string | undefined {
  const p = str(o, 'project_id') ?? str(o, 'tenant_id');
  return p || undefined;
}

/**
 * Create each item; a bulk request is all or nothing (the ones made are deleted again when one fails).
 */
export async function createAll<T extends { id: string }>(
  items: NeutronObject[],
  create: (o: NeutronObject) => Promise<T>,
  undo: (id: string) => Promise<void>,
): Promise<T[]> {
  const done: T[] = [];
  try {
    for (const o of items) done.push(await create(o));
  } catch (e) {
    for (const d of done.reverse()) await undo(d.id).catch(() => undefined);
    throw e;
  }
  return done;
}

/** The object with id `id` among those the caller sees. @throws OsError 404 (another project's too) */
export function byId<T extends { id: string }>(rows: T[], id: string, what: string): T {
  const r = rows.find((x) => x.id === id);
  if (!r) throw new OsError(404, `${what} ${id} could not be found.`);
  return r;
}
