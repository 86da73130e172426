/**
 * Simulation runs for the dashboard: finished `nubis sim --save` runs in a folder, and new runs
 * started from the API as a child `nubis sim` process (the simulator is CPU-bound; the server's
 * event loop must stay free). A run is NAME.json when done, NAME.running while it runs, NAME.error
 * when it failed (the child's log, kept on the server: answers say only that it failed).
 *
 * Inputs are named, never paths: a scenario is a preset or a file `inputs/NAME.{json,yaml,yml}` of
 * the runs folder, a trace a folder NAME under the configured traces folder. At most `maxRuns` run
 * at once (others are refused with 429 and Retry-After), each within `maxHosts` hosts, `maxVms`
 * VMs and `timeoutS` seconds.
 */
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
  unlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import { ControlError } from '../control/errors.ts';
import { OPS_PRESETS } from '../sim/ops-scenario.ts';
import { SCENARIO_PRESETS } from '../sim/scenario.ts';

export interface SimulationsOptions {
  /** Folder of saved runs (DATA/simulations); named scenario files are in its `inputs/`. */
  dir: string;
  /** The nubis CLI entry (bin/nubis.js) to run `nubis sim` with. */
  bin: string;
  /** Folder of PlanetLab traces, one folder per name (default: none, so no trace may be named). */
  traces?: string;
  /** Runs at once (default 2). */
  maxRuns?: number;
  /** Hosts per run (default 2,000). */
  maxHosts?: number;
  /** VMs per run (PlanetLab `--limit-vms`, default 5,000). */
  maxVms?: number;
  /** Seconds a run may take before it is stopped (default 900). */
  timeoutS?: number;
}

/** The limits in force (the defaults filled in). */
export const simLimits = (o: SimulationsOptions) => ({
  maxRuns: o.maxRuns ?? 2,
  maxHosts: o.maxHosts ?? 2000,
  maxVms: o.maxVms ?? 5000,
  timeoutS: o.timeoutS ?? 900,
});

/** Runs started by this process that have not exited, per runs folder. */
const RUNNING = new Map<string, Set<string>>();
const liveRuns = (o: SimulationsOptions) => {
  let s = RUNNING.get(o.dir);
  if (!s) RUNNING.set(o.dir, (s = new Set()));
  return s;
};

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,80}$/;

export interface RunSummary {
  name: string;
  status: 'done' | 'running' | 'failed';
  engine?: string;
  scenario?: string;
  mode?: string;
  createdAt: string;
  policies: string[];
  days: string[];
  error?: string;
}

export function listRuns(o: SimulationsOptions): RunSummary[] {
  if (!existsSync(o.dir)) return [];
  const out: RunSummary[] = [];
  for (const f of readdirSync(o.dir).sort()) {
    const m = /^(.+)\.(json|running|error)$/.exec(f);
    if (!m) continue;
    const [, name, kind] = m;
    const path = join(o.dir, f);
    if (kind === 'json') {
      try {
        const r = JSON.parse(readFileSync(path, 'utf8')) as {
          engine?: string;
          scenario?: string;
          mode?: string;
          createdAt?: string;
          rows: { policy: string; day: string }[];
        };
        out.push({
          name: name!,
          status: 'done',
          engine: r.engine,
          scenario: r.scenario,
          mode: r.mode,
          createdAt: r.createdAt ?? statSync(path).mtime.toISOString(),
          policies: [...new Set(r.rows.map((x) => x.policy))],
          days: [...new Set(r.rows.map((x) => x.day))],
        });
      } catch {
        out.push({
          name: name!,
          status: 'failed',
          createdAt: statSync(path).mtime.toISOString(),
          policies: [],
          days: [],
          error: 'not a saved nubis sim run',
        });
      }
    } else if (!existsSync(join(o.dir, `${name}.json`))) {
      out.push({
        name: name!,
        status: kind === 'running' ? 'running' : 'failed',
        createdAt: statSync(path).mtime.toISOString(),
        policies: [],
        days: [],
        // The child's log may quote an input: it stays on the server.
        ...(kind === 'error' ? { error: failure(readFileSync(path, 'utf8')) } : {}),
      });
    }
  }
  return out.sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1));
}

/** What an answer says of a failed run: its first line when it is one of ours, never the child's log. */
function failure(log: string): string {
  const first = log.trim().split('\n')[0] ?? '';
  return /^(stopped after \d+ s|nubis sim exited with -?\d+)/.test(first)
    ? first
    : "the run failed; the server keeps its log in the run's .error file";
}

const BAD_NAME = (what: string) =>
  new ControlError('BAD_REQUEST', `Bad ${what} name: 1-81 letters, digits, '.', '_' or '-', not a path`);

export function getRun(o: SimulationsOptions, name: string): unknown {
  if (!NAME.test(name)) throw BAD_NAME('run');
  const path = join(o.dir, `${name}.json`);
  if (!existsSync(path)) {
    const s = listRuns(o).find((r) => r.name === name);
    if (s) return s;
    throw new ControlError('NOT_FOUND', `No simulation run "${name}"`);
  }
  try {
    return { name, status: 'done', ...(JSON.parse(readFileSync(path, 'utf8')) as object) };
  } catch {
    return listRuns(o).find((r) => r.name === name);
  }
}

export interface StartRun {
  name?: string;
  scenario: string;
  trace?: string;
  policies: string[];
  mode?: 'cloudsim' | 'default';
  limitVms?: number;
  hosts?: number;
  engine?: 'simulator' | 'control-plane';
}

/** The scenario argument for a name: a preset, or the file `inputs/NAME.*` of the runs folder. */
function scenarioArg(o: SimulationsOptions, r: StartRun): string {
  if (!NAME.test(r.scenario)) throw BAD_NAME('scenario');
  const presets = r.engine === 'control-plane' ? OPS_PRESETS : SCENARIO_PRESETS;
  if (Object.hasOwn(presets, r.scenario)) return r.scenario;
  for (const ext of ['json', 'yaml', 'yml']) {
    const f = join(o.dir, 'inputs', `${r.scenario}.${ext}`);
    if (existsSync(f) && statSync(f).isFile()) return f;
  }
  throw new ControlError(
    'BAD_REQUEST',
    `No scenario "${r.scenario}": accepted: a preset (${Object.keys(presets).join(', ')}) or the name of a file in the server's simulations/inputs folder`,
  );
}

/** The trace folder for a name under the configured traces folder. */
function traceArg(o: SimulationsOptions, name: string): string {
  if (!NAME.test(name)) throw BAD_NAME('trace');
  const f = o.traces ? join(o.traces, name) : undefined;
  if (!f || !existsSync(f) || !statSync(f).isDirectory())
    throw new ControlError(
      'BAD_REQUEST',
      `No trace "${name}": a trace is the name of a folder in the server's configured traces folder`,
    );
  return f;
}

/**
 * Start `nubis sim ... --save DIR/NAME.json` in the background.
 * @throws ControlError TOO_MANY_REQUESTS when `maxRuns` run already; BAD_REQUEST for an unknown input or a size over the limits
 */
export function startRun(o: SimulationsOptions, r: StartRun, now: Date): RunSummary {
  const lim = simLimits(o);
  const name = r.name ?? `run-${now.toISOString().replace(/[:.]/g, '-')}`;
  if (!NAME.test(name)) throw BAD_NAME('run');
  if (r.hosts !== undefined && r.hosts > lim.maxHosts)
    throw new ControlError('BAD_REQUEST', `hosts: at most ${lim.maxHosts} per run on this server`);
  if (r.limitVms !== undefined && r.limitVms > lim.maxVms)
    throw new ControlError('BAD_REQUEST', `limitVms: at most ${lim.maxVms} per run on this server`);
  const scenario = scenarioArg(o, r);
  const trace = r.trace ? traceArg(o, r.trace) : undefined;
  const live = liveRuns(o);
  if (live.size >= lim.maxRuns)
    throw new ControlError(
      'TOO_MANY_REQUESTS',
      `${live.size} simulation runs are running (at most ${lim.maxRuns} at once); try again when one ends`,
      { retryAfterS: 30 },
    );
  mkdirSync(o.dir, { recursive: true });
  if (existsSync(join(o.dir, `${name}.json`)) || existsSync(join(o.dir, `${name}.running`)))
    throw new ControlError('ALREADY_EXISTS', `A run named "${name}" exists`);
  const args = [
    o.bin,
    'sim',
    '--scenario',
    scenario,
    '--policy',
    r.policies.join(','),
    '--save',
    join(o.dir, `${name}.json`),
    '--json',
  ];
  if (r.engine === 'control-plane') args.push('--engine', 'control-plane');
  else args.push('--mode', r.mode ?? 'default');
  if (trace) args.push('--trace', trace);
  if (r.engine !== 'control-plane') args.push('--limit-vms', String(r.limitVms ?? lim.maxVms));
  if (r.hosts) args.push('--hosts', String(r.hosts));
  const running = join(o.dir, `${name}.running`),
    error = join(o.dir, `${name}.error`);
  writeFileSync(running, args.slice(1).join(' '));
  if (existsSync(error)) unlinkSync(error);
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, NUBIS_NO_PROGRESS: '1' },
  });
  live.add(name);
  // A run that outlives its time is stopped (its .error says so).
  let stopped = false;
  const timer = setTimeout(() => {
    stopped = true;
    child.kill('SIGKILL');
  }, lim.timeoutS * 1000);
  timer.unref();
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
    if (err.length > 20000) err = err.slice(-10000);
  });
  child.on('exit', (code) => {
    clearTimeout(timer);
    live.delete(name);
    try {
      unlinkSync(running);
    } catch {
      /* gone */
    }
    if (stopped) writeFileSync(error, `stopped after ${lim.timeoutS} s (the server's limit per run)\n${err}`);
    else if (code !== 0) writeFileSync(error, `nubis sim exited with ${code}\n${err}`);
  });
  return {
    name,
    status: 'running',
    createdAt: now.toISOString(),
    policies: r.policies,
    days: [],
    scenario: r.scenario,
    engine: r.engine ?? 'simulator',
    mode: r.mode ?? 'default',
  };
}
