/**
 * `npm run check:tempest`: Tempest's compute, image, network, volume and identity API tests (minus the
 * APIs outside the contract, tempest-exclude.txt) against a fresh test cloud; prints pass/fail/skip per
 * service and every failure grouped by reason. Slow (tens of minutes on two cores).
 *   npm run check:tempest                       # the whole set
 *   npm run check:tempest -- --regex 'tempest\.api\.volume\.'   # a part
 *   npm run check:tempest -- --ci               # the CI subset (tempest-ci.txt)
 *   npm run check:tempest -- --candidates --write-ci   # try the CI candidates, keep those that pass
 * Options: --include-list FILE (Tempest's own, regexes), --concurrency N (default 2), --verbose (Tempest's
 * progress), --keep (leave the cloud's folder with Tempest's logs).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  bareId,
  formatReport,
  initWorkspace,
  readIdList,
  runTempest,
  TEMPEST_BIN,
  writeIncludeList,
} from './tempest.ts';
import { OPENSTACK_BIN, startTestCloud } from './test-cloud.ts';

const here = new URL('.', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    regex: { type: 'string' },
    'include-list': { type: 'string' },
    concurrency: { type: 'string', default: '2' },
    verbose: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    ci: { type: 'boolean', default: false },
    candidates: { type: 'boolean', default: false },
    'write-ci': { type: 'boolean', default: false },
  },
});
for (const bin of [TEMPEST_BIN, OPENSTACK_BIN])
  if (!existsSync(bin)) {
    console.error(`${bin} is missing: apt-get install tempest python3-openstackclient`);
    process.exit(2);
  }
const cloud = await startTestCloud();
console.log(`test cloud on ${cloud.url} (folder ${cloud.dir})`);
let failed = 0;
try {
  const ws = initWorkspace(cloud);
  const idFile = values.ci ? 'tempest-ci.txt' : values.candidates ? 'tempest-ci-candidates.txt' : undefined;
  const ids = idFile ? readIdList(join(here, idFile)) : [];
  const include = idFile ? writeIncludeList(ids, join(cloud.dir, 'include.txt')) : values['include-list'];
  const results = await runTempest(ws, cloud.env, {
    ...(include ? { includeList: include } : {}),
    ...(include && !values.regex
      ? {}
      : { regex: values.regex ?? '^tempest\\.api\\.(compute|image|network|volume|identity)\\.' }),
    excludeList: `${here}tempest-exclude.txt`,
    concurrency: Number(values.concurrency),
    ...(values.verbose ? { progress: process.stdout } : {}),
  });
  console.log(formatReport(results));
  failed = results.filter((r) => r.status === 'fail').length;
  if (values['write-ci']) {
    const passed = new Set(results.filter((r) => r.status === 'success').map((r) => bareId(r.id)));
    const ciFile = join(here, 'tempest-ci.txt');
    const header = readFileSync(ciFile, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('#'));
    writeFileSync(ciFile, [...header, ...ids.filter((id) => passed.has(id))].join('\n') + '\n');
    console.log(`wrote ${ids.filter((id) => passed.has(id)).length} passing tests to ${ciFile}`);
  }
} finally {
  if (values.keep) console.log(`kept ${cloud.dir}`);
  await cloud.stop(values.keep);
}
process.exit(failed > 0 ? 1 : 0);
