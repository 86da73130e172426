import { runExperiment } from '../src/sim/run.ts';
import { PLANETLAB_SCENARIO } from '../src/sim/scenario.ts';
const r = runExperiment({ scenario: PLANETLAB_SCENARIO, days: ['/work/shared/data/planetlab/20110303'], policies: process.argv.slice(2), mode: 'cloudsim' });
for (const row of r.rows) console.log(row.policy, row.energyKWh.toFixed(2), row.migrations, row.slatah, row.pdm, row.hostShutdowns, row.detectorCalls, Math.round(row.wallMs));
const G=globalThis as any; console.log("findHost calls",G.__calls,"ranked tries",G.__fh,"detector tries",G.__fd,"rejections",G.__rej,"selection iters",G.__sel);
console.log("overload-phase calls", G.__ov);
console.log("with extra", G.__x, "without", G.__y);
