// The browser app: @fae/* resolve to the packages' sources (no build step), the example's
// checkpoints are served under /checkpoints (dev and preview) and copied into dist/ by `vite build`,
// and tfjs's .wasm files are served from node_modules (imported with ?url).
import { createReadStream, existsSync, statSync, cpSync } from 'node:fs';
import { dirname, join, resolve, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const checkpoints = resolve(here, '..', 'cli', 'checkpoints');

function serveCheckpoints(): Plugin {
  const middleware = (req: { url?: string }, res: any, next: () => void) => {
    const url = decodeURIComponent((req.url ?? '').split('?')[0]);
    if (!url.startsWith('/checkpoints/')) return next();
    const file = normalize(join(checkpoints, url.slice('/checkpoints/'.length)));
    if (!file.startsWith(checkpoints) || !existsSync(file) || !statSync(file).isFile()) {
      res.statusCode = 404;
      res.end('not found');
      return;
    }
    res.setHeader('Content-Length', statSync(file).size);
    res.setHeader('Content-Type', file.endsWith('.json') ? 'application/json' : 'application/octet-stream');
    createReadStream(file).pipe(res);
  };
  return {
    name: 'fae-checkpoints',
    configureServer: (server) => void server.middlewares.use(middleware),
    configurePreviewServer: (server) => void server.middlewares.use(middleware),
    closeBundle() {
      const out = resolve(here, 'dist', 'checkpoints');
      if (existsSync(resolve(here, 'dist'))) cpSync(checkpoints, out, { recursive: true });
    },
  };
}

export default defineConfig({
  root: here,
  plugins: [serveCheckpoints()],
  resolve: {
    alias: [
      { find: /^@fae\/([a-z]+)$/, replacement: resolve(root, 'packages/$1/src/index.ts') },
    ],
  },
  server: { fs: { allow: [root] } },
  build: { target: 'es2022', chunkSizeWarningLimit: 4096 },
  optimizeDeps: { exclude: ['webgpu'] },
});
