/** `nubis sim`: run consolidation policies over traces and print, save and plot the results. */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { parsePolicy } from '../policies/registry.ts';
import { seriesCsv } from '../sim/csv.ts';
import { resolveTraceDays, TraceError } from '../sim/planetlab.ts';
import type { OpsResult } from '../sim/ops-run.ts';
import { memoryCompareTable, runMemoryCompare } from '../sim/memory-compare.ts';
import { memoryRiskTable, runMemoryRiskSweep } from '../sim/memory-risk-sweep.ts';
import { renderMemoryCompareReport, renderOpsReport, renderReport } from '../sim/report.ts';
import { OPS_PRESETS, parseOpsScenario, type OpsScenario } from '../sim/ops-scenario.ts';
import { loadWorkload, type ResultRow } from '../sim/run.ts';
import { runSweep, SweepCellError, sweepJobs } from '../sim/sweep.ts';
import { parseScenario, SCENARIO_PRESETS, ScenarioError, type ScenarioSpec } from '../sim/scenario.ts';
import { summarize } from '../sim/summary.ts';
import { OperationFailedError } from './commands/common.ts';
import { formatTable } from './table.ts';

/** Read a scenario file (.json, .yaml, .yml) as data; errors name the file and what is wrong. */
function readSpecFile(arg: string, kind: string, presets: string[], docs: string): unknown {
  if (!/\.(json|ya?ml)$/i.test(arg))
    throw new ScenarioError(
      `Unknown ${kind} "${arg}"; accepted: a preset (${presets.join(', ')}) or a .json/.yaml/.yml file (${docs})`,
    );
  let text: string;
  try {
    text = readFileSync(arg, 'utf8');
  } catch {
    throw new ScenarioError(`Scenario file not found: ${arg}`);
  }
  try {
    return extname(arg).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new ScenarioError(
      `${arg}: not valid ${extname(arg).slice(1).toUpperCase()}: ${(e as Error).message.split('\n')[0]}`,
    );
  }
}

/** Load `--scenario`: a preset name or a JSON/YAML file. */
export function loadScenario(arg: string): ScenarioSpec {
  return (
    SCENARIO_PRESETS[arg] ??
    parseScenario(readSpecFile(arg, 'scenario', Object.keys(SCENARIO_PRESETS), 'docs/scenarios.md'), arg)
  );
}

const collect = (v: string, prev: string[]) => [...prev, v];

/** Most seeds one `--seeds` takes (a typo like 1..100000 should not start a week of runs). */
const MAX_SEEDS = 10_000;

/** Parse `--seeds`: a list (`1,2,3`), a range (`1..5`), or both (`1..3,10`); integers >= 0. */
export function parseSeeds(arg: string): number[] {
  const bad = () =>
    new ScenarioError(
      `--seeds takes integers >= 0 as a list or ranges (1,2,3 or 1..5 or 1..3,10), got "${arg}"`,
    );
  const seeds: number[] = [];
  for (const part of arg.split(',').map((x) => x.trim())) {
    const m = /^(\d+)(?:\.\.(\d+))?$/.exec(part);
    if (!m) throw bad();
    const a = Number(m[1]),
      b = m[2] === undefined ? a : Number(m[2]);
    if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || b < a) throw bad();
    if (seeds.length + (b - a + 1) > MAX_SEEDS)
      throw new ScenarioError(`--seeds "${arg}" names more than ${MAX_SEEDS} seeds`);
    for (let x = a; x <= b; x++) seeds.push(x);
  }
  return [...new Set(seeds)];
}

export function simCommand(program: Command): void {
  program
    .command('sim')
    .description('Simulate dynamic VM consolidation on a data center driven by workload traces')
    .option(
      '--scenario <name|file>',
      'preset (planetlab, synthetic) or a scenario file (.json, .yaml)',
      'planetlab',
    )
    .option('--trace <dir>', 'PlanetLab day folder, or a folder of day folders (repeatable)', collect, [])
    .option(
      '--policy <list>',
      'comma-separated presets, e.g. thr-mmt:0.8,lr-mmt:1.2,npa,dvfs,optimal[:NODES],milp:SECONDS (repeatable)',
      collect,
      [],
    )
    .option(
      '--mode <mode>',
      'cloudsim (CloudSim 4.0 exactly, quirks included) or default (quirks fixed)',
      'default',
    )
    .option('--seed <n>', "random seed (default: the scenario's)")
    .option('--seeds <list>', 'run every day and policy once per seed: 1,2,3 or 1..5 (overrides --seed)')
    .option(
      '--jobs <n>',
      'worker threads for the grid of days × seeds × policies (default: the number of CPUs; 1 runs in this thread)',
    )
    .option('--hosts <n>', "number of hosts (scales the scenario's host types)")
    .option('--limit-vms <n>', 'use only the first N trace files of each day')
    .option('--json', 'print the results as JSON on stdout (nothing else)')
    .option('--report <file>', 'write a self-contained HTML report with plots')
    .option('--csv <file>', 'write per-step series as CSV')
    .option(
      '--save <file>',
      'save the run (rows and per-step series) as JSON: `nubis serve` lists runs saved in DATA/simulations/ on its Simulations page',
    )
    .option(
      '--memory-compare',
      "run the first day and policy three times: RAM at flavor size, memory-aware, sharing-aware (the scenario's memory: section or its defaults); print the comparison",
    )
    .option(
      '--risk <list>',
      'with --memory-compare: comma-separated overcommit risks (each in (0, 0.5)); runs the memory-aware and sharing-aware placements at each, on every --trace day, and prints the means per day',
    )
    .option(
      '--engine <engine>',
      "simulator (the fast trace-driven engine) or control-plane (the control plane's own automation, power management and HA on simulated hosts, with injected failures)",
      'simulator',
    )
    .action(
      async (o: {
        save?: string;
        engine: string;
        scenario: string;
        trace: string[];
        policy: string[];
        mode: string;
        seed?: string;
        seeds?: string;
        jobs?: string;
        hosts?: string;
        limitVms?: string;
        json?: boolean;
        report?: string;
        csv?: string;
        memoryCompare?: boolean;
        risk?: string;
      }) => {
        if (o.engine === 'control-plane') return runControlPlaneEngine(o);
        if (o.engine !== 'simulator')
          throw new ScenarioError(`Unknown engine "${o.engine}"; accepted: simulator, control-plane`);
        if (o.mode !== 'cloudsim' && o.mode !== 'default')
          throw new ScenarioError(`Unknown mode "${o.mode}"; accepted: cloudsim, default`);
        const int = (name: string, v: string | undefined, min: number) => {
          if (v === undefined) return undefined;
          const n = Number(v);
          if (!Number.isInteger(n) || n < min)
            throw new ScenarioError(`--${name} must be an integer >= ${min}, got "${v}"`);
          return n;
        };
        let scenario = loadScenario(o.scenario);
        const limit = int('limit-vms', o.limitVms, 1);
        if (limit !== undefined && scenario.workload.type === 'planetlab')
          scenario = { ...scenario, workload: { ...scenario.workload, limitVms: limit } };
        const policies = (o.policy.length ? o.policy : scenario.policies)
          .flatMap((p) => p.split(','))
          .map((p) => p.trim())
          .filter(Boolean);
        if (policies.length === 0)
          throw new ScenarioError('No policy given; use --policy (e.g. --policy thr-mmt:0.8,lr-mmt:1.2)');
        const specs = policies.map(parsePolicy); // fail fast on a bad name
        const optimal = specs.filter((p) => p.type === 'optimal');
        if (optimal.length && o.mode !== 'default')
          throw new ScenarioError(
            `Policy "${optimal[0]!.label}" runs in default mode only; drop --mode ${o.mode} or the policy`,
          );
        for (const p of optimal)
          if (p.timeLimitS !== undefined)
            process.stderr.write(
              `note: ${p.label} stops each solve on the wall clock: this run is not reproducible (optimal[:NODES] is)\n`,
            );
        let days: string[] = [];
        if (scenario.workload.type === 'planetlab') {
          const paths = o.trace.length ? o.trace : scenario.workload.path ? [scenario.workload.path] : [];
          if (paths.length === 0)
            throw new TraceError(
              'The scenario reads PlanetLab traces: give --trace DIR (a day folder or a folder of days)',
            );
          days = resolveTraceDays(paths);
        }
        const seeds = o.seeds === undefined ? undefined : parseSeeds(o.seeds);
        const seed = int('seed', o.seed, 0);
        const hosts = int('hosts', o.hosts, 1);
        const jobs = int('jobs', o.jobs, 1);
        if (o.risk !== undefined && !o.memoryCompare)
          throw new ScenarioError('--risk goes with --memory-compare');
        if (o.memoryCompare && o.risk !== undefined)
          return memoryRiskSweep(o, scenario, days, policies[0]!, seed ?? scenario.seed, hosts, o.risk);
        if (o.memoryCompare)
          return memoryCompare(o, scenario, days[0], policies[0]!, seed ?? scenario.seed, hosts);
        const showBar = !o.json && process.stderr.isTTY === true;
        // One bar for the whole grid: cells done of all cells, the ETA from the cells' steps.
        const bar = showBar
          ? new cliProgress.SingleBar(
              {
                format: 'sim [{bar}] {cells}/{total} cells | {label} | {eta_formatted} left',
                stream: process.stderr,
                hideCursor: true,
                etaBuffer: 50,
              },
              cliProgress.Presets.shades_classic,
            )
          : undefined;
        const total =
          (scenario.workload.type === 'synthetic' ? 1 : days.length) * (seeds?.length ?? 1) * policies.length;
        // The optimal policy solves in the simulator's own thread: HiGHS is loaded before the run starts
        // (here when the cells run in this thread; each worker loads its own).
        const milp =
          optimal.length && sweepJobs(jobs, total) <= 1
            ? await (await import('../drivers/highs/highs-sync.ts')).highsSyncSolver()
            : undefined;
        bar?.start(total, 0, { label: '', cells: 0 });
        let out;
        try {
          out = await runSweep({
            scenario,
            days,
            policies,
            mode: o.mode,
            seed,
            seeds,
            hosts,
            milp,
            jobs,
            onProgress: bar
              ? (done, _t, label, finished) => bar.update(done, { label, cells: finished })
              : undefined,
          });
        } catch (e) {
          // A cell failed in a worker (the other workers are stopped): the error names the cell. An
          // input error (bad trace, bad policy) keeps its code and exit 2, as with --jobs 1; others exit 1.
          if (e instanceof SweepCellError)
            throw e.causeCode && /^[A-Z_]+$/.test(e.causeCode)
              ? Object.assign(new Error(e.message), { code: e.causeCode })
              : new OperationFailedError(`sim: ${e.message}`);
          throw e;
        } finally {
          bar?.stop();
        }
        if (o.report)
          writeFileSync(
            o.report,
            renderReport(out, {
              title: `nubis sim: ${scenario.name} (${o.mode} mode)`,
              command: process.argv.slice(2).join(' '),
            }),
          );
        if (o.csv) writeFileSync(o.csv, seriesCsv(out));
        if (o.save)
          saveRun(o.save, {
            engine: 'simulator',
            scenario: scenario.name,
            mode: o.mode,
            rows: out.rows,
            series: Object.fromEntries(out.series),
          });
        if (o.json) {
          process.stdout.write(JSON.stringify(out.rows, null, 2) + '\n');
          return;
        }
        const severalSeeds = seeds !== undefined && seeds.length > 1;
        process.stdout.write(renderRows(out.rows, severalSeeds) + '\n');
        if (out.rows.some((r) => r.memory)) process.stdout.write('\n' + renderMemoryRows(out.rows) + '\n');
        if (new Set(out.rows.map((r) => `${r.day}|${r.seed}`)).size > 1)
          process.stdout.write('\n' + renderSummary(out.rows, severalSeeds) + '\n');
        if (o.report) process.stdout.write(`\nreport: ${o.report}\n`);
        if (o.csv) process.stdout.write(`series: ${o.csv}\n`);
      },
    );
}

/** `nubis sim --memory-compare`: the three memory placements on one day, policy and seed. */
function memoryCompare(
  o: { mode: string; json?: boolean; report?: string },
  scenario: ScenarioSpec,
  day: string | undefined,
  policy: string,
  seed: number,
  hosts: number | undefined,
): void {
  if (o.mode !== 'default') throw new ScenarioError('--memory-compare runs in default mode only');
  const workload = loadWorkload(scenario, day, seed);
  const out = runMemoryCompare({ scenario, workload, policy, seed, hosts });
  const table = memoryCompareTable(out.rows);
  if (o.report)
    writeFileSync(
      o.report,
      renderMemoryCompareReport(out, table, {
        title: `nubis sim --memory-compare: ${scenario.name}, ${workload.source}, ${policy}, seed ${seed}`,
        command: process.argv.slice(2).join(' '),
      }),
    );
  if (o.json) {
    process.stdout.write(JSON.stringify(out.rows, null, 2) + '\n');
    return;
  }
  process.stdout.write(
    formatTable(
      table.head,
      table.cells,
      table.head.map((_, i) => i > 1),
    ) + '\n',
  );
  if (o.report) process.stdout.write(`\nreport: ${o.report}\n`);
}

/** Parse `--risk`: comma-separated numbers, each in (0, 0.5) (the memory section's bounds). */
export function parseRisks(arg: string): number[] {
  const risks = arg
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
    .map((x) => {
      const r = Number(x);
      if (!/^[0-9.eE+-]+$/.test(x) || !(r > 0 && r < 0.5))
        throw new ScenarioError(`--risk: "${x}" is not a risk in (0, 0.5)`);
      return r;
    });
  if (risks.length === 0) throw new ScenarioError('--risk: give at least one risk, e.g. 0.001,0.01,0.05');
  return risks;
}

/** `nubis sim --memory-compare --risk LIST`: the placements at each risk, means over the days. */
function memoryRiskSweep(
  o: { mode: string; json?: boolean; report?: string },
  scenario: ScenarioSpec,
  days: string[],
  policy: string,
  seed: number,
  hosts: number | undefined,
  riskArg: string,
): void {
  if (o.mode !== 'default') throw new ScenarioError('--memory-compare runs in default mode only');
  if (o.report) throw new ScenarioError('--report is not available with --risk (use --json)');
  const risks = parseRisks(riskArg);
  const list = days.length ? days : [undefined];
  const workloads = (function* () {
    for (const day of list) yield loadWorkload(scenario, day, seed);
  })();
  const rows = runMemoryRiskSweep({ scenario, workloads, policy, seed, risks, hosts });
  if (o.json) {
    process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
    return;
  }
  const table = memoryRiskTable(rows);
  process.stdout.write(
    formatTable(
      table.head,
      table.cells,
      table.head.map((_, i) => i > 1),
    ) + '\n',
  );
}

/** Write a run for `nubis serve`'s Simulations page (atomically: a reader never sees half a file). */
function saveRun(
  file: string,
  run: { engine: string; scenario: string; mode: string; rows: unknown[]; series: Record<string, unknown> },
): void {
  mkdirSync(dirname(resolve(file)), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(
    tmp,
    JSON.stringify({
      ...run,
      createdAt: new Date().toISOString(),
      command: `nubis ${process.argv.slice(2).join(' ')}`,
    }),
  );
  renameSync(tmp, file);
}

/** Load an operations scenario: a preset name or a JSON/YAML file. */
function loadOpsScenario(arg: string): OpsScenario {
  return (
    OPS_PRESETS[arg] ??
    parseOpsScenario(
      readSpecFile(arg, 'operations scenario', Object.keys(OPS_PRESETS), 'docs/operations.md'),
      arg,
    )
  );
}

/** `nubis sim --engine control-plane`: one replay per policy through the control plane's own loop. */
async function runControlPlaneEngine(o: {
  save?: string;
  scenario: string;
  trace: string[];
  policy: string[];
  seed?: string;
  json?: boolean;
  report?: string;
}): Promise<void> {
  let s = loadOpsScenario(o.scenario === 'planetlab' ? 'ops-demo' : o.scenario);
  if (o.seed !== undefined) {
    const n = Number(o.seed);
    if (!Number.isInteger(n) || n < 0)
      throw new ScenarioError(`--seed must be an integer >= 0, got "${o.seed}"`);
    s = { ...s, seed: n };
  }
  if (o.trace.length)
    s = {
      ...s,
      workload: {
        type: 'planetlab',
        path: o.trace[0]!,
        limitVms: s.workload.type === 'planetlab' ? s.workload.limitVms : undefined,
      },
    };
  const policies = o.policy.length
    ? o.policy
        .flatMap((p) => p.split(','))
        .map((p) => p.trim())
        .filter(Boolean)
    : [s.automation.policy];
  for (const p of policies)
    if (p !== 'reservation') {
      const spec = parsePolicy(p);
      if (spec.type === 'optimal')
        throw new ScenarioError(
          `Policy "${p}" runs in the simulator engine only (the control plane's optimizer: nubis plan audit --policy optimal)`,
        );
      if (spec.type !== 'migration')
        throw new ScenarioError(
          `Policy "${p}" plans no migrations; the control-plane engine takes reservation or DETECTOR-SELECTION presets (e.g. lr-mmt:1.2)`,
        );
    }
  const showBar = !o.json && process.stderr.isTTY === true;
  const bar = showBar
    ? new cliProgress.SingleBar(
        {
          format: 'sim [{bar}] {percentage}% | {label} | {eta_formatted} left',
          stream: process.stderr,
          hideCursor: true,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  const steps = Math.floor(s.durationS / s.stepS) + 1;
  bar?.start(steps * policies.length, 0, { label: '' });
  // Loaded here, not at the top: the control plane and its stores are for this engine only.
  const { runOpsInProcess } = await import('../sim/ops-run.ts');
  const results: OpsResult[] = [];
  try {
    for (const [i, policy] of policies.entries()) {
      results.push(
        await runOpsInProcess(
          { ...s, automation: { ...s.automation, policy } },
          bar ? (k) => bar.update(i * steps + k, { label: policy }) : undefined,
        ),
      );
    }
  } finally {
    bar?.stop();
  }
  if (o.save)
    saveRun(o.save, {
      engine: 'control-plane',
      scenario: s.name,
      mode: 'control-plane',
      rows: results.map(({ series: _s, ...r }) => ({ ...r, day: s.name })),
      series: Object.fromEntries(results.map((r) => [`${s.name}|${r.policy}`, r.series])),
    });
  if (o.report)
    writeFileSync(
      o.report,
      renderOpsReport(results, {
        title: `nubis sim --engine control-plane: ${s.name}`,
        command: process.argv.slice(2).join(' '),
      }),
    );
  if (o.json) {
    process.stdout.write(
      JSON.stringify(
        results.map(({ series: _series, ...r }) => r),
        null,
        2,
      ) + '\n',
    );
    return;
  }
  process.stdout.write(
    formatTable(
      [
        'policy',
        'energy kWh',
        'hosts on',
        'migrations',
        'power-offs',
        'power-ons',
        'failures',
        'HA restarts',
        'VMs lost',
        'overloaded %',
      ],
      results.map((r) => [
        r.policy,
        r.energyKWh.toFixed(2),
        r.meanActiveHosts.toFixed(1),
        r.migrations,
        r.powerOffs,
        r.powerOns,
        r.failures,
        r.haRestarts,
        r.lostVms,
        (r.overloadShare * 100).toFixed(2),
      ]),
      [false, true, true, true, true, true, true, true, true, true],
    ) + '\n',
  );
  if (o.report) process.stdout.write(`\nreport: ${o.report}\n`);
}

function renderRows(rows: ResultRow[], withSeed: boolean): string {
  const pct = (x: number, d: number) => (x * 100).toFixed(d);
  // The seed column only when the grid has several seeds.
  const keep = <T>(xs: T[]) => (withSeed ? xs : xs.filter((_, i) => i !== 1));
  return formatTable(
    keep([
      'day',
      'seed',
      'policy',
      'mode',
      'energy kWh',
      'migrations',
      'SLATAH %',
      'PDM %',
      'SLAV %',
      'ESV',
      'shutdowns',
      'mig s',
      'wall ms',
    ]),
    rows.map((r) =>
      keep([
        r.day,
        r.seed,
        r.policy,
        r.mode,
        r.energyKWh.toFixed(2),
        r.migrations,
        pct(r.slatah, 3),
        pct(r.pdm, 4),
        pct(r.slav, 5),
        r.esv.toExponential(3),
        r.hostShutdowns,
        r.meanMigrationTimeS.toFixed(2),
        r.wallMs.toFixed(0),
      ]),
    ),
    keep([false, true, false, false, true, true, true, true, true, true, true, true, true]),
  );
}

/** The memory model's figures per row (scenarios with a `memory:` section). */
function renderMemoryRows(rows: ResultRow[]): string {
  return formatTable(
    [
      'day',
      'policy',
      'placement',
      'swap SLA %',
      'VM time swapping %',
      'shared MiB',
      'balloon MiB',
      'swap MiB max',
    ],
    rows.map((r) => [
      r.day,
      r.policy,
      r.memory?.placement ?? '-',
      r.memory ? (r.memory.slaSwap * 100).toFixed(4) : '-',
      r.memory ? (r.memory.swapTimeShare * 100).toFixed(2) : '-',
      r.memory ? r.memory.meanSharedMiB.toFixed(0) : '-',
      r.memory ? r.memory.meanBalloonMiB.toFixed(0) : '-',
      r.memory ? r.memory.maxSwapMiB.toFixed(0) : '-',
    ]),
    [false, false, false, true, true, true, true, true],
  );
}

function renderSummary(rows: ResultRow[], severalSeeds: boolean): string {
  const pct = (x: number, d: number) => (x * 100).toFixed(d);
  const s = summarize(rows);
  return formatTable(
    [
      'policy (mean ± sd)',
      severalSeeds ? 'runs' : 'days',
      'energy kWh',
      'migrations',
      'SLATAH %',
      'PDM %',
      'SLAV %',
    ],
    s.map((x) => [
      x.policy,
      x.days,
      `${x.mean.energyKWh.toFixed(2)} ± ${x.stdev.energyKWh.toFixed(2)}`,
      `${x.mean.migrations.toFixed(0)} ± ${x.stdev.migrations.toFixed(0)}`,
      `${pct(x.mean.slatah, 3)} ± ${pct(x.stdev.slatah, 3)}`,
      `${pct(x.mean.pdm, 4)} ± ${pct(x.stdev.pdm, 4)}`,
      `${pct(x.mean.slav, 5)} ± ${pct(x.stdev.slav, 5)}`,
    ]),
    [false, true, true, true, true, true, true],
  );
}
