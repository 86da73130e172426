/**
 * `npm run check:tempest`: Tempest's compute, image, network, volume and identity API tests (minus the
 * APIs outside the contract, tempest-exclude.txt) against a fresh test cloud; prints pass/fail/skip per
 * service and every failure grouped by reason. Slow (tens of minutes on two cores).
 *   npm run check:tempest                       # the whole set
 *   npm run check:tempest -- --regex 'tempest\.api\.volume\.'   # a part
 *   npm run check:tempest -- --include-list scripts/openstack/tempest-ci.txt   # the CI subset
 * Options: --concurrency N (default 2), --verbose (Tempest's own progress), --keep (leave the cloud's folder).
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { formatReport, initWorkspace, runTempest, TEMPEST_BIN } from './tempest.ts';
import { OPENSTACK_BIN, startTestCloud } from './test-cloud.ts';

const here = new URL('.', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    regex: { type: 'string' },
    'include-list': { type: 'string' },
    concurrency: { type: 'string', default: '2' },
    verbose: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
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
  const include = values['include-list'];
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
} finally {
  if (values.keep) console.log(`kept ${cloud.dir}`);
  await cloud.stop(values.keep);
}
process.exit(failed > 0 ? 1 : 0);
