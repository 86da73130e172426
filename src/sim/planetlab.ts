/**
 * Reader for the PlanetLab trace format (CloudSim's `workload/planetlab/<day>/`): one file per VM,
 * one integer CPU percentage per line, a sample every 300 s. Files are taken sorted by name
 * (plain code-unit order), so VM i is the i-th file (the spec's fix for quirk Q2).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Workload } from './workload.ts';

/** A trace file or folder that cannot be read as PlanetLab data. */
export class TraceError extends Error {
  readonly code = 'BAD_TRACE';
}

/** PlanetLab samples per day file. */
export const PLANETLAB_SAMPLES = 288;

/**
 * Read one day folder. Each file must hold exactly `samples` integer lines 0..100.
 * @param limit read only the first `limit` files (sorted), for small tests and quick runs
 * @throws TraceError naming the file and line of the first bad value
 */
export function readPlanetLabDay(dir: string, opts: { limit?: number; samples?: number } = {}): Workload {
  const samples = opts.samples ?? PLANETLAB_SAMPLES;
  let st;
  try {
    st = statSync(dir);
  } catch {
    throw new TraceError(`Trace folder not found: ${dir}`);
  }
  if (!st.isDirectory())
    throw new TraceError(`Not a folder: ${dir} (expected a PlanetLab day folder with one file per VM)`);
  let names = readdirSync(dir).filter(
    (f) => !f.startsWith('.') && f !== 'README.md' && statSync(join(dir, f)).isFile(),
  );
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (opts.limit !== undefined) names = names.slice(0, opts.limit);
  if (names.length === 0) throw new TraceError(`No trace files in ${dir}`);
  const out = new Uint8Array(names.length * (samples + 1));
  names.forEach((name, v) => {
    const file = join(dir, name);
    const text = readFileSync(file, 'latin1');
    let line = 0,
      val = -1,
      k = v * (samples + 1);
    const bad = (what: string): never => {
      throw new TraceError(
        `${file}:${line + 1}: ${what}; expected one integer percentage 0..100 per line, ${samples} lines`,
      );
    };
    for (let i = 0; i <= text.length; i++) {
      const c = i < text.length ? text.charCodeAt(i) : 10;
      if (c >= 48 && c <= 57) {
        val = (val < 0 ? 0 : val * 10) + (c - 48);
        if (val > 100) bad('value above 100');
      } else if (c === 10 || c === 13) {
        if (c === 13 && text.charCodeAt(i + 1) === 10) continue;
        if (val < 0) {
          if (i >= text.length) break;
          bad('empty or non-numeric line');
        }
        if (line >= samples) bad(`more than ${samples} lines`);
        out[k++] = val;
        line++;
        val = -1;
      } else if (c !== 32 && c !== 9) bad(`unexpected character "${text[i]}"`);
    }
    if (line < samples) throw new TraceError(`${file}: ${line} lines, expected ${samples}`);
    out[k] = out[k - 1]!; // CloudSim repeats the last sample as the 289th
  });
  return { source: dir, names, samplesPerVm: samples + 1, sampleIntervalS: 300, samples: out };
}

/**
 * Resolve `--trace` arguments: a day folder is one day; a folder of day folders is every day in it.
 * @returns day folders in name order
 */
export function resolveTraceDays(paths: readonly string[]): string[] {
  const days: string[] = [];
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch {
      throw new TraceError(`Trace folder not found: ${p}`);
    }
    if (!st.isDirectory()) throw new TraceError(`Not a folder: ${p}`);
    const entries = readdirSync(p).sort();
    const subdirs = entries.filter((e) => statSync(join(p, e)).isDirectory());
    const files = entries.filter(
      (e) => !e.startsWith('.') && e !== 'README.md' && statSync(join(p, e)).isFile(),
    );
    if (subdirs.length > 0 && files.length === 0) days.push(...subdirs.map((d) => join(p, d)));
    else days.push(p);
  }
  return days;
}

export function dayName(dir: string): string {
  return basename(dir.replace(/\/+$/, ''));
}
