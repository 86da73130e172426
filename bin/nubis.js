#!/usr/bin/env node
// Entry point. The TypeScript sources are bundled once with esbuild into node_modules/.cache
// (rebuilt whenever a source file is newer than the bundle): startup without a loader hook, and a
// hot path without per-module wrappers. NUBIS_NO_BUNDLE=1 runs the sources through tsx instead.
import { existsSync, mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'src/cli/main.ts');

function newestSource(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return t;
}

async function load() {
  if (process.env.NUBIS_NO_BUNDLE === '1') {
    const { register } = await import('tsx/esm/api');
    register();
    return import(pathToFileURL(entry).href);
  }
  const out = join(root, 'node_modules/.cache/nubis/cli.mjs');
  if (!existsSync(out) || statSync(out).mtimeMs < newestSource(join(root, 'src'))) {
    const { buildSync } = await import('esbuild');
    mkdirSync(dirname(out), { recursive: true });
    // Built beside and renamed into place: two processes starting at once never read a half-written bundle.
    const tmp = `${out}.${process.pid}.tmp.mjs`;
    buildSync({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile: tmp,
      packages: 'external',
      logLevel: 'error',
    });
    renameSync(tmp, out);
  }
  return import(pathToFileURL(out).href);
}

const { main } = await load();
process.exitCode = await main(process.argv);
