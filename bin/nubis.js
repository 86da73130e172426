#!/usr/bin/env node
// Entry point. The TypeScript sources are bundled with esbuild into node_modules/.cache/nubis/:
// startup without a loader hook, and a hot path without per-module wrappers. The bundle is split
// (esbuild `splitting`): each command's module is a chunk loaded by a dynamic import only when that
// command runs, so `nubis sim` never evaluates fastify, kysely, the stores or the agent.
// NUBIS_NO_BUNDLE=1 runs the sources through tsx instead.
//
// Staleness: the build writes a manifest of every file and folder under src/ with its mtime; a start
// rebuilds when any of them differs (edited, added, removed or renamed: a folder's mtime changes when
// an entry is added or removed). Comparing each mtime for equality, not "newer than the bundle", also
// catches a file put back with an older mtime, and a git checkout (which sets mtimes to now) rebuilds.
// The walk is about 400 stats: a few ms of a `nubis sim` start-up of ~0.15 s CPU (measured). It is
// skipped when nubis runs from an installed package (its folder is inside a node_modules folder:
// src/ does not change there, and an upgrade replaces the folder, cache included) or when
// NUBIS_BUNDLE_CHECK=0 (you promise src/ is unchanged).
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');
const entry = join(src, 'cli/main.ts');
const cache = join(root, 'node_modules/.cache/nubis');
const current = join(cache, 'current.json');

/** Every file and folder under src/ with its mtime (ms), keyed by its path relative to src/. */
function manifest(rel = '', out = {}) {
  const dir = join(src, rel);
  out[rel] = statSync(dir).mtimeMs;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) manifest(r, out);
    else out[r] = statSync(`${dir}/${e.name}`).mtimeMs;
  }
  return out;
}

function sameManifest(a, b) {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

function readCurrent() {
  try {
    return JSON.parse(readFileSync(current, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Build into a fresh folder and switch `current.json` to it (a rename: atomic for concurrent starts). */
async function build() {
  const sources = manifest(); // taken before building: an edit during the build rebuilds next time
  const { buildSync } = await import('esbuild');
  const name = `build-${Date.now()}-${process.pid}`;
  buildSync({
    entryPoints: { cli: entry },
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outdir: join(cache, name),
    outExtension: { '.js': '.mjs' },
    packages: 'external',
    logLevel: 'error',
  });
  const tmp = `${current}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ dir: name, sources }));
  renameSync(tmp, current);
  // Old builds go after an hour: a process started from one may still load its chunks lazily.
  for (const e of readdirSync(cache)) {
    const p = join(cache, e);
    if (e !== name && e !== 'current.json' && statSync(p).mtimeMs < Date.now() - 3600_000)
      rmSync(p, { recursive: true, force: true });
  }
  return name;
}

async function load() {
  if (process.env.NUBIS_NO_BUNDLE === '1') {
    const { register } = await import('tsx/esm/api');
    register();
    return import(pathToFileURL(entry).href);
  }
  const installed = root.split(sep).includes('node_modules') || process.env.NUBIS_BUNDLE_CHECK === '0';
  const cur = readCurrent();
  let dir = cur?.dir;
  if (
    !cur ||
    !existsSync(join(cache, dir, 'cli.mjs')) ||
    (!installed && existsSync(src) && !sameManifest(cur.sources, manifest()))
  )
    dir = await build();
  return import(pathToFileURL(join(cache, dir, 'cli.mjs')).href);
}

const { main } = await load();
process.exitCode = await main(process.argv);
