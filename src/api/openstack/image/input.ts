/**
 * What Glance v2 accepts in an image create body and in a JSON-patch update, turned into nubis's
 * image fields (https://docs.openstack.org/api-ref/image/v2/#create-image, #update-image). Read-only
 * and reserved attributes are 403, wrong values 400, as Glance answers.
 */
import {
  IMAGE_VISIBILITIES,
  type ImageFields,
  type ImageRecord,
  type ImageVisibility,
} from '../../../control/storage/image-records.ts';
import { OsError } from '../frame.ts';

/** Formats nubis takes (the contract: container `bare`/`ovf`, disk `qcow2`/`raw`). */
const CONTAINER_FORMATS = ['bare', 'ovf'];
const DISK_FORMATS = ['qcow2', 'raw'];

/** Attributes Glance computes: setting one is 403 (Glance: "Attribute '…' is read-only"). */
const READ_ONLY = new Set([
  'status',
  'checksum',
  'size',
  'virtual_size',
  'created_at',
  'updated_at',
  'self',
  'file',
  'schema',
  'os_hash_algo',
  'os_hash_value',
  'direct_url',
  'locations',
  'deleted',
  'deleted_at',
  'stores',
]);

/** The attributes {@link setCore} takes. */
const CORE = new Set([
  'name',
  'visibility',
  'protected',
  'os_hidden',
  'container_format',
  'disk_format',
  'min_disk',
  'min_ram',
  'tags',
  'owner',
]);

/** `os_glance_*` is Glance's own namespace (403 on create and update). */
const reserved = (key: string) => key.startsWith('os_glance') || key === 'id';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function bad(message: string): never {
  throw new OsError(400, message);
}

/** One core attribute's value checked, into `f`. */
function setCore(f: ImageFields, key: string, v: unknown): boolean {
  switch (key) {
    case 'name':
      if (v !== null && (typeof v !== 'string' || v.length > 255))
        bad('Invalid name: a string of at most 255 characters');
      if (v !== null) f.name = v as string;
      return true;
    case 'visibility':
      if (!IMAGE_VISIBILITIES.includes(v as ImageVisibility))
        bad(`Invalid visibility value: ${String(v)} (public, private, shared or community)`);
      f.visibility = v as ImageVisibility;
      return true;
    case 'protected':
    case 'os_hidden':
      if (typeof v !== 'boolean') bad(`Invalid value for ${key}: ${JSON.stringify(v)} is not a boolean`);
      if (key === 'protected') f.protected = v;
      else f.osHidden = v;
      return true;
    case 'container_format':
      if (v !== null && !CONTAINER_FORMATS.includes(v as string))
        bad(`Invalid container format '${String(v)}' for image (${CONTAINER_FORMATS.join(', ')})`);
      f.containerFormat = v as string | null;
      return true;
    case 'disk_format':
      if (v !== null && !DISK_FORMATS.includes(v as string))
        bad(`Invalid disk format '${String(v)}' for image (${DISK_FORMATS.join(', ')})`);
      f.diskFormat = v as string | null;
      return true;
    case 'min_disk':
    case 'min_ram':
      if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 2 ** 31 - 1)
        bad(`Invalid value for ${key}: ${JSON.stringify(v)} is not a non-negative integer`);
      if (key === 'min_disk') f.minDisk = v as number;
      else f.minRam = v as number;
      return true;
    case 'tags':
      if (!Array.isArray(v) || v.some((t) => typeof t !== 'string' || t.length === 0 || t.length > 255))
        bad('Invalid tags: a list of strings of 1 to 255 characters');
      if ((v as string[]).length > 128) bad('Maximum number of tags exceeded (128)');
      f.tags = v as string[];
      return true;
    case 'owner':
      if (v !== null && (typeof v !== 'string' || v.length > 255)) bad('Invalid owner');
      if (v !== null) f.owner = v as string;
      return true;
    default:
      return false;
  }
}

function customValue(key: string, v: unknown): string {
  if (key.length > 255) bad(`Property name too long: ${key.slice(0, 40)}…`);
  if (typeof v !== 'string' || v.length > 65535)
    bad(`Invalid value for property ${key}: ${JSON.stringify(v)} is not a string`);
  return v;
}

/** An image create body (`POST /v2/images`): core attributes, an optional id, custom properties. */
export function createFields(body: unknown): { fields: ImageFields; id?: string } {
  if (body === undefined || body === null) body = {};
  if (typeof body !== 'object' || Array.isArray(body)) bad('The request body must be a JSON object');
  const f: ImageFields = {};
  const properties: Record<string, string> = {};
  let id: string | undefined;
  for (const [key, v] of Object.entries(body as Record<string, unknown>)) {
    if (READ_ONLY.has(key)) throw new OsError(403, `Attribute '${key}' is read-only.`);
    if (key === 'id') {
      if (typeof v !== 'string' || !UUID.test(v)) bad(`Invalid id: ${JSON.stringify(v)} is not a UUID`);
      id = v.toLowerCase();
      continue;
    }
    if (reserved(key)) throw new OsError(403, `Attribute '${key}' is reserved.`);
    if (setCore(f, key, v)) continue;
    if (v === null) continue;
    properties[key] = customValue(key, v);
  }
  f.properties = properties;
  return { fields: f, id };
}

/** JSON pointer `/a~1b` → `a/b` (RFC 6901); only one level (Glance's paths). */
function pathKey(path: unknown): string {
  if (typeof path !== 'string' || !/^\/[^/]+$/.test(path))
    bad(`Invalid JSON pointer for this resource: ${JSON.stringify(path)}`);
  return path.slice(1).replace(/~1/g, '/').replace(/~0/g, '~');
}

/**
 * A JSON-patch body (`application/openstack-images-v2.1-json-patch`: a list of `{op: add|replace|
 * remove, path, value}`) applied to image `i`, as the fields that change.
 */
export function patchFields(i: ImageRecord, body: unknown): ImageFields {
  if (!Array.isArray(body)) bad('The request body must be a JSON-patch list of operations');
  const f: ImageFields = {};
  const properties = JSON.parse(i.properties) as Record<string, string>;
  let propsChanged = false;
  for (const change of body) {
    if (typeof change !== 'object' || change === null) bad('Each operation must be a JSON object');
    const c = change as { op?: unknown; path?: unknown; value?: unknown };
    // Glance also accepts the older draft form {"replace": "/name", "value": …}.
    const op =
      c.op ?? (['add', 'replace', 'remove'] as const).find((k) => k in (change as Record<string, unknown>));
    const path = c.path ?? (op ? (change as Record<string, unknown>)[op as string] : undefined);
    if (op !== 'add' && op !== 'replace' && op !== 'remove')
      bad(`Unsupported patch operation ${JSON.stringify(op)} (add, replace or remove)`);
    const key = pathKey(path);
    if (READ_ONLY.has(key) || key === 'id') throw new OsError(403, `Attribute '${key}' is read-only.`);
    if (reserved(key)) throw new OsError(403, `Attribute '${key}' is reserved.`);
    if (op === 'remove') {
      if (key === 'tags') f.tags = [];
      else if (key in properties) {
        delete properties[key];
        propsChanged = true;
      } else if (CORE.has(key)) throw new OsError(403, `Properties ${key} must not be removed.`);
      else throw new OsError(409, `Property ${key} does not exist.`);
      continue;
    }
    if (!('value' in c)) bad(`Operation ${op} on ${key} needs a value`);
    if (setCore(f, key, c.value)) continue;
    if (op === 'replace' && !(key in properties)) throw new OsError(409, `Property ${key} does not exist.`);
    properties[key] = customValue(key, c.value);
    propsChanged = true;
  }
  if (propsChanged) f.properties = properties;
  return f;
}
