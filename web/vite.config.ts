// The dashboard's build: React through esbuild's automatic JSX runtime (no plugin needed), output
// in web/dist, which `nubis serve` serves at / (same origin as the API).
import { defineConfig } from 'vite';

export default defineConfig({
  root: __dirname,
  base: '/',
  esbuild: { jsx: 'automatic' },
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 600 },
  server: { proxy: { '/v1': 'http://127.0.0.1:8080' } },
});
