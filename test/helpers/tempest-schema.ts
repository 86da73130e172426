/**
 * Check an OpenStack answer against the JSON Schema Tempest validates it with (Debian's `tempest`
 * package: `tempest/lib/api_schema/response/...`), by Tempest's own validator (status code, body with
 * `additionalProperties: false`, headers). The schemas are Python: the check runs in /usr/bin/python3.
 * Without tempest installed the suites using it skip (CI installs it; NUBIS_REQUIRE_TEMPEST=1 makes its
 * absence a failure).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const TEMPEST = '/usr/lib/python3/dist-packages/tempest/lib/api_schema/response';

/** Why the schema checks cannot run here (pass as `{ skip }`), or undefined when they can. */
export const TEMPEST_SKIP: string | undefined =
  existsSync(TEMPEST) || process.env.NUBIS_REQUIRE_TEMPEST === '1'
    ? undefined
    : 'Tempest is not installed (apt-get install tempest)';

const SCRIPT = `
import importlib, json, sys
from tempest.lib.common import rest_client
out = []
for d in json.load(sys.stdin):
    mod, attr = d['schema'].rsplit('.', 1)
    schema = getattr(importlib.import_module('tempest.lib.api_schema.response.' + mod), attr)
    class Resp(dict):
        pass
    resp = Resp({k.lower(): v for k, v in d.get('headers', {}).items()})
    resp.status = d['status']
    try:
        rest_client.RestClient.validate_response(schema, resp, d['body'])
        out.append(None)
    except Exception as e:
        out.append('%s: %s' % (type(e).__name__, e))
print(json.dumps(out))
`;

/** One answer to check: `schema` is the dotted path under `api_schema.response` (e.g. `compute.v2_1.servers.get_server`). */
export interface SchemaCheck {
  schema: string;
  status: number;
  body: unknown;
  headers?: Record<string, string | string[] | number | undefined>;
}

/**
 * The failures of each answer against its Tempest schema (null where it passes), in one Python run.
 * @example assert.deepEqual(tempestCheck([{ schema: 'compute.v2_1.flavors.list_flavors', status: 200, body }]), [null]);
 */
export function tempestCheck(checks: SchemaCheck[]): (string | null)[] {
  const input = JSON.stringify(
    checks.map((c) => ({
      ...c,
      headers: Object.fromEntries(
        Object.entries(c.headers ?? {}).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]),
      ),
    })),
  );
  const r = spawnSync('/usr/bin/python3', ['-c', SCRIPT], { input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`Tempest's validator failed to run: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as (string | null)[];
}
