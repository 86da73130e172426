/**
 * Run Debian's Tempest against a test cloud (scripts/openstack/test-cloud.ts): `tempest init` a workspace
 * in the cloud's folder, write tempest.conf from tempest.conf.template with the cloud's images, flavors,
 * shared network and hypervisor count (read with the real `openstack` client, contract section 10), run a
 * regex or an include list, and read the results back from the subunit stream (pass/fail/skip per
 * service, each failure's reason).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openstackJson, renderTemplate, type TestCloud } from './test-cloud.ts';

const here = new URL('.', import.meta.url).pathname;

/** Where Tempest lives (Debian's `tempest` package); absent: the Tempest checks cannot run here. */
export const TEMPEST_BIN = '/usr/bin/tempest';

/** The five services counted, by the package of their tests (`tempest.api.<service>`). */
export const SERVICES = ['identity', 'compute', 'image', 'network', 'volume'] as const;

/** One test's result. */
export interface TempestResult {
  id: string;
  status: 'success' | 'fail' | 'skip';
  /** The last line of the traceback (fail) or the skip reason. */
  reason: string;
}

/** What to run: a regex, or a file of regexes (include list), optionally minus an exclude list. */
export interface TempestRunOptions {
  regex?: string;
  includeList?: string;
  excludeList?: string;
  concurrency?: number;
  /** Print Tempest's own progress to this stream (default: nothing). */
  progress?: NodeJS.WritableStream;
}

type Row = Record<string, unknown>;

/** A listing's row with lower-case keys (the CLI's columns are `ID`, `Name`, `Status`...). */
export function lowerKeys(row: Row): Row {
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k.toLowerCase(), v]));
}

/** The values of tempest.conf.template for this cloud (the CLI's listings, as the admin). */
export function tempestVars(cloud: TestCloud): Record<string, string | number> {
  const list = (args: string[]) => (openstackJson(cloud, [...args, '-f', 'json']) as Row[]).map(lowerKeys);
  const images = list(['image', 'list', '--public'])
    .filter((i) => String(i.status ?? 'active').toLowerCase() === 'active')
    .sort((a, b) => Number(b.name === 'tiny') - Number(a.name === 'tiny'));
  const flavors = list(['flavor', 'list']).sort(
    (a, b) => Number(b.name === 'm1.tiny') - Number(a.name === 'm1.tiny'),
  );
  const networks = list(['network', 'list', '--share']);
  const hypervisors = list(['hypervisor', 'list']);
  if (images.length < 2)
    throw new Error(`Tempest needs 2 active public images, the cloud has ${images.length}`);
  if (flavors.length < 2) throw new Error(`Tempest needs 2 flavors, the cloud has ${flavors.length}`);
  if (!networks[0]) throw new Error('Tempest needs a shared network, the cloud has none');
  return {
    LOG_DIR: join(cloud.dir, 'tempest', 'logs'),
    ADMIN_PASSWORD: cloud.adminPassword,
    AUTH_URL: cloud.authUrl,
    IMAGE_REF: String(images[0]!.id),
    IMAGE_REF_ALT: String(images[1]!.id),
    FLAVOR_REF: String(flavors[0]!.id),
    FLAVOR_REF_ALT: String(flavors[1]!.id),
    NETWORK_NAME: String(networks[0].name),
    COMPUTE_NODES: hypervisors.length,
  };
}

/** Create Tempest's workspace for the cloud (CLOUD_DIR/tempest, its etc/tempest.conf written); returns its path. */
export function initWorkspace(cloud: TestCloud): string {
  const ws = join(cloud.dir, 'tempest');
  const r = spawnSync(TEMPEST_BIN, ['init', '--workspace-path', join(cloud.dir, 'workspace.yaml'), ws], {
    env: cloud.env,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`tempest init failed: ${r.stderr}${r.stdout}`);
  mkdirSync(join(ws, 'logs'), { recursive: true });
  const conf = renderTemplate(readFileSync(join(here, 'tempest.conf.template'), 'utf8'), tempestVars(cloud));
  writeFileSync(join(ws, 'etc', 'tempest.conf'), conf);
  return ws;
}

/** Run Tempest in the workspace; resolves with each test's result (read from the run's subunit stream). */
export async function runTempest(
  ws: string,
  env: NodeJS.ProcessEnv,
  opts: TempestRunOptions,
): Promise<TempestResult[]> {
  const args = ['run', '--concurrency', String(opts.concurrency ?? 2)];
  if (opts.regex) args.push('--regex', opts.regex);
  if (opts.includeList) args.push('--include-list', opts.includeList);
  if (opts.excludeList) args.push('--exclude-list', opts.excludeList);
  await new Promise<void>((resolve, reject) => {
    const p = spawn(TEMPEST_BIN, args, { cwd: ws, env, stdio: ['ignore', 'pipe', 'pipe'] });
    if (opts.progress) {
      p.stdout.pipe(opts.progress, { end: false });
      p.stderr.pipe(opts.progress, { end: false });
    } else {
      p.stdout.resume();
      p.stderr.resume();
    }
    p.on('error', reject);
    // Tempest exits 1 when a test fails: the results say which.
    p.on('exit', () => resolve());
  });
  const last = spawnSync('/usr/bin/stestr', ['last', '--subunit'], { cwd: ws, env, maxBuffer: 1 << 30 });
  if (last.status !== 0 || last.stdout.length === 0)
    throw new Error(`no Tempest results in ${ws}: ${String(last.stderr)}`);
  return parseSubunit(last.stdout);
}

// Reads a subunit v2 stream on stdin; prints [{id, status, reason}] (python3-subunit and testtools).
const PARSE = `
import json, re, sys, subunit, testtools
out = []
def on_test(t):
    st = t['status']
    if st in ('exists', 'inprogress'):
        return
    status = 'success' if st in ('success', 'xfail') else 'skip' if st == 'skip' else 'fail'
    reason = ''
    d = t['details']
    for k in ('traceback', 'reason'):
        if k in d:
            text = d[k].as_text().strip()
            lines = [l for l in text.splitlines() if l.strip()]
            reason = lines[-1].strip() if lines else ''
            # The exception's line (unindented 'module.Name: message'), with Tempest's 'Details:' line.
            for i in range(len(lines) - 1, -1, -1):
                if re.match(r'[A-Za-z_][\\w.]*: ', lines[i]) and not lines[i].startswith('Details:'):
                    reason = lines[i]
                    if i + 1 < len(lines) and lines[i + 1].startswith('Details:'):
                        reason += ' ' + lines[i + 1]
                    break
            break
    out.append({'id': t['id'], 'status': status, 'reason': reason[:300]})
case = subunit.ByteStreamToStreamResult(sys.stdin.buffer, non_subunit_name='stdout')
res = testtools.StreamToDict(on_test)
res.startTestRun()
case.run(res)
res.stopTestRun()
print(json.dumps(out))
`;

/** Each test's result in a subunit v2 stream (as `stestr last --subunit` prints it). */
export function parseSubunit(stream: Buffer): TempestResult[] {
  const r = spawnSync('/usr/bin/python3', ['-c', PARSE], {
    input: stream,
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  if (r.status !== 0) throw new Error(`reading the subunit stream failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as TempestResult[];
}

/** The service of a test id (`tempest.api.compute…`, also inside `setUpClass (tempest.api.compute…)`). */
export function serviceOf(id: string): string {
  return /tempest\.api\.([a-z_]+)\./.exec(id)?.[1] ?? 'other';
}

/** Pass/fail/skip counts per service. */
export function countByService(
  results: TempestResult[],
): Map<string, Record<TempestResult['status'], number>> {
  const m = new Map<string, Record<TempestResult['status'], number>>();
  for (const s of SERVICES) m.set(s, { success: 0, fail: 0, skip: 0 });
  for (const r of results) {
    const s = serviceOf(r.id);
    if (!m.has(s)) m.set(s, { success: 0, fail: 0, skip: 0 });
    m.get(s)![r.status]++;
  }
  return m;
}

/** The report: a table of counts per service, then the failures grouped by service and reason. */
export function formatReport(results: TempestResult[]): string {
  const lines = ['service    pass  fail  skip', '---------  ----  ----  ----'];
  const total = { success: 0, fail: 0, skip: 0 };
  for (const [s, c] of countByService(results)) {
    lines.push(`${s.padEnd(9)}  ${pad(c.success)}  ${pad(c.fail)}  ${pad(c.skip)}`);
    total.success += c.success;
    total.fail += c.fail;
    total.skip += c.skip;
  }
  lines.push(`${'total'.padEnd(9)}  ${pad(total.success)}  ${pad(total.fail)}  ${pad(total.skip)}`);
  const classes = new Map<string, string[]>();
  for (const r of results.filter((x) => x.status === 'fail')) {
    const key = `${serviceOf(r.id)}: ${r.reason || '(no traceback)'}`;
    classes.set(key, [...(classes.get(key) ?? []), r.id]);
  }
  if (classes.size > 0) lines.push('', 'failures by reason:');
  for (const [key, ids] of [...classes].sort((a, b) => b[1].length - a[1].length)) {
    lines.push(`  ${ids.length} × ${key}`);
    for (const id of ids.slice(0, 3)) lines.push(`      ${id}`);
    if (ids.length > 3) lines.push(`      … and ${ids.length - 3} more`);
  }
  return lines.join('\n');
}

function pad(n: number): string {
  return String(n).padStart(4);
}

/** The test ids of a list file (tempest-ci.txt, tempest-ci-candidates.txt): one a line, `#` comments. */
export function readIdList(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter((l) => l !== '');
}

/** Write test ids as a Tempest include list (one anchored regex each, the `[id-…]` suffix allowed); returns its path. */
export function writeIncludeList(ids: string[], file: string): string {
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  writeFileSync(file, ids.map((id) => `^${esc(id)}(\\[|$)`).join('\n') + '\n');
  return file;
}

/** A result's test id without its `[id-…,tags]` suffix. */
export function bareId(id: string): string {
  return id.replace(/\[.*\]$/, '');
}
