/**
 * fast-check arbitraries from JSON Schema (the OpenAPI document's, made from the API's zod schemas):
 * values that mostly fit the schema, with hostile strings mixed in (traversal, huge, control
 * characters, other tenants' ids) so both the validators and the code behind them are exercised.
 */
import fc from 'fast-check';

/** A JSON Schema node as z.toJSONSchema writes it (the subset the API's schemas use). */
export interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  maxLength?: number;
  maxItems?: number;
  format?: string;
  pattern?: string;
  additionalProperties?: boolean | Schema;
}

/** Strings an attacker would try where an id, name or path goes. */
export const HOSTILE = [
  '',
  ' ',
  '..',
  '../../etc/passwd',
  '..%2F..%2Fetc',
  '/etc/passwd',
  'C:\\Windows',
  '%00',
  '\u0000',
  'a'.repeat(300),
  '💥',
  '<script>',
  "' or 1=1 --",
  '-1',
  '1e309',
  '__proto__',
  'constructor',
];

/** Numbers at the edges: zero, negatives, huge, fractions. */
const EDGE_NUMBERS = [0, -1, 1, 0.5, 1e9, 2 ** 53, -(2 ** 53), 1e308, Number.MAX_SAFE_INTEGER];

/**
 * Values for `s`: usually fitting it, sometimes not (a hostile string, an edge number, a missing or
 * extra property). `ids` are real ids (own and other tenants') to put where strings go.
 */
export function fromSchema(s: Schema | undefined, ids: readonly string[], depth = 0): fc.Arbitrary<unknown> {
  const str = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...ids) },
    { weight: 2, arbitrary: fc.constantFrom(...HOSTILE) },
    { weight: 2, arbitrary: fc.string({ maxLength: 20 }) },
    { weight: 1, arbitrary: fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/) },
  );
  if (!s || depth > 4) return fc.jsonValue({ maxDepth: 2 });
  if (s.const !== undefined) return fc.constant(s.const);
  if (s.enum) return fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...s.enum) }, str);
  const alts = s.anyOf ?? s.oneOf;
  if (alts?.length) return fc.oneof(...alts.map((a) => fromSchema(a, ids, depth + 1)));
  if (s.allOf?.length) return fromSchema(s.allOf[0], ids, depth + 1);
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case 'string':
      if (s.format === 'date')
        return fc.oneof(fc.constantFrom('2030-01-01', '2030-02-30', '0000-00-00'), str);
      if (s.format === 'date-time')
        return fc.oneof(fc.constantFrom('2030-01-01T00:00:00Z', '2030-01-01T25:00:00+01:00'), str);
      return str;
    case 'integer':
    case 'number': {
      const lo = s.minimum ?? s.exclusiveMinimum ?? -1000;
      const hi = s.maximum ?? lo + 1_000_000;
      return fc.oneof(
        { weight: 4, arbitrary: fc.integer({ min: Math.ceil(lo), max: Math.floor(Math.max(lo, hi)) }) },
        { weight: 1, arbitrary: fc.constantFrom(...EDGE_NUMBERS) },
        { weight: 1, arbitrary: fc.double() },
      );
    }
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(fromSchema(s.items, ids, depth + 1), { maxLength: Math.min(s.maxItems ?? 4, 4) });
    case 'object': {
      const props = Object.entries(s.properties ?? {});
      const req = new Set(s.required ?? []);
      const rec = fc.record(Object.fromEntries(props.map(([k, v]) => [k, fromSchema(v, ids, depth + 1)])), {
        requiredKeys: props.map(([k]) => k).filter((k) => req.has(k)),
      });
      return fc.oneof(
        { weight: 6, arbitrary: rec },
        // A required key dropped, or a key no schema has.
        {
          weight: 1,
          arbitrary: fc
            .tuple(rec, fc.constantFrom(...(props.length ? props.map(([k]) => k) : ['x'])))
            .map(([o, k]) => {
              const c = { ...(o as object) } as Record<string, unknown>;
              delete c[k];
              return c;
            }),
        },
        { weight: 1, arbitrary: rec.map((o) => ({ ...(o as object), zzUnknown: 1 })) },
      );
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}
