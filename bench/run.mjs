// Run a benchmark bundled with esbuild (as the CLI runs), so figures reflect production code.
import { buildSync } from 'esbuild';
import { mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'bench', process.argv[2] ?? 'sim.ts');
const out = join(root, 'node_modules/.cache/nubis/bench', basename(entry).replace(/\.ts$/, '.mjs'));
mkdirSync(dirname(out), { recursive: true });
// Keep import.meta.url pointing into bench/ for relative data paths.
buildSync({
  entryPoints: [entry],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outfile: out,
  packages: 'external',
  logLevel: 'error',
  define: { 'import.meta.url': JSON.stringify(pathToFileURL(entry).href) },
});
process.argv.splice(2, 1);
await import(pathToFileURL(out).href);
