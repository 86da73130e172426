/**
 * Simulation runs for the dashboard: finished `nubis sim --save` runs in a folder, and new runs
 * started from the API as a child `nubis sim` process (the simulator is CPU-bound; the server's
 * event loop must stay free). A run is NAME.json when done, NAME.running while it runs, NAME.error
 * when it failed.
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

export interface SimulationsOptions {
  /** Folder of saved runs (DATA/simulations). */
  dir: string;
  /** The nubis CLI entry (bin/nubis.js) to run `nubis sim` with. */
  bin: string;
}

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
        ...(kind === 'error' ? { error: readFileSync(path, 'utf8').trim().slice(-2000) } : {}),
      });
    }
  }
  return out.sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1));
}

export function getRun(o: SimulationsOptions, name: string): unknown {
  if (!NAME.test(name))
    throw new ControlError('BAD_REQUEST', `Bad run name "${name}": letters, digits, '.', '_' and '-' only`);
  const path = join(o.dir, `${name}.json`);
  if (!existsSync(path)) {
    const s = listRuns(o).find((r) => r.name === name);
    if (s) return s;
    throw new ControlError('NOT_FOUND', `No simulation run "${name}"`);
  }
  return { name, status: 'done', ...(JSON.parse(readFileSync(path, 'utf8')) as object) };
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

/** Start `nubis sim ... --save DIR/NAME.json` in the background. */
export function startRun(o: SimulationsOptions, r: StartRun, now: Date): RunSummary {
  const name = r.name ?? `run-${now.toISOString().replace(/[:.]/g, '-')}`;
  if (!NAME.test(name))
    throw new ControlError('BAD_REQUEST', `Bad run name "${name}": letters, digits, '.', '_' and '-' only`);
  mkdirSync(o.dir, { recursive: true });
  if (existsSync(join(o.dir, `${name}.json`)) || existsSync(join(o.dir, `${name}.running`)))
    throw new ControlError('ALREADY_EXISTS', `A run named "${name}" exists`);
  if (r.trace && !existsSync(r.trace))
    throw new ControlError('BAD_REQUEST', `The server cannot read the trace folder "${r.trace}"`);
  const args = [
    o.bin,
    'sim',
    '--scenario',
    r.scenario,
    '--policy',
    r.policies.join(','),
    '--save',
    join(o.dir, `${name}.json`),
    '--json',
  ];
  if (r.engine === 'control-plane') args.push('--engine', 'control-plane');
  else args.push('--mode', r.mode ?? 'default');
  if (r.trace) args.push('--trace', r.trace);
  if (r.limitVms) args.push('--limit-vms', String(r.limitVms));
  if (r.hosts) args.push('--hosts', String(r.hosts));
  const running = join(o.dir, `${name}.running`),
    error = join(o.dir, `${name}.error`);
  writeFileSync(running, args.slice(1).join(' '));
  if (existsSync(error)) unlinkSync(error);
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, NUBIS_NO_PROGRESS: '1' },
  });
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
    if (err.length > 20000) err = err.slice(-10000);
  });
  child.on('exit', (code) => {
    try {
      unlinkSync(running);
    } catch {
      /* gone */
    }
    if (code !== 0) writeFileSync(error, err || `nubis sim exited with ${code}`);
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
