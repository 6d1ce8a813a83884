// `npm run parity -- <fixture-dir> [...] [--backend cpu|wasm|webgpu|all]`: checks fixture directories
// (format: ../shared/fixtures/README.md) against our implementations. Each directory is recognised by
// its contents through the handlers in handlers/index.ts; a folder of fixtures expands to them.
// Prints one line per output and `N passed, M failed`; exits 1 on any failure or unknown fixture.
//
// Runs under `node --import tsx`. `@fae/<pkg>` imports are resolved to packages/<pkg>/src/index.ts
// (the sources, as the tests use them), so no build is needed. For webgpu on a CPU-only machine the
// process re-executes itself once with software Vulkan in its environment (LD_LIBRARY_PATH must be
// set before a process starts).
import { spawnSync } from 'node:child_process';
import { register } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { softwareVulkanEnv } from '../backends-env.js';
import { ALL_BACKENDS, type TestBackend } from '../start-backend.js';

const USAGE = 'usage: npm run parity -- <fixture-dir> [...] [--backend cpu|wasm|webgpu|all]';

function parseArgs(argv: string[]): { dirs: string[]; backends: TestBackend[] } {
  const dirs: string[] = [];
  let backend = 'cpu';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else if (a === '--backend' || a === '-b') backend = argv[++i] ?? '';
    else if (a.startsWith('--backend=')) backend = a.slice('--backend='.length);
    else if (a.startsWith('-')) {
      console.error(`unknown option ${a}\n${USAGE}`);
      process.exit(2);
    } else dirs.push(a);
  }
  const backends = (backend === 'all' ? [...ALL_BACKENDS] : backend.split(',')) as TestBackend[];
  const bad = backends.filter((b) => !ALL_BACKENDS.includes(b));
  if (bad.length || !backends.length) {
    console.error(`unknown backend '${backend}'\n${USAGE}`);
    process.exit(2);
  }
  if (!dirs.length) {
    console.error(USAGE);
    process.exit(2);
  }
  return { dirs, backends };
}

/** Maps `@fae/<pkg>` to packages/<pkg>/src/index.ts (and `@fae/testing` to tools/testing/src). */
function registerSourceResolution(): void {
  const root = pathToFileURL(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..') + '/').href;
  const hooks = `
    const ROOT = ${JSON.stringify(root)};
    export async function resolve(specifier, context, next) {
      const m = /^@fae\\/([a-z]+)$/.exec(specifier);
      if (m) {
        const url = m[1] === 'testing' ? ROOT + 'tools/testing/src/index.ts' : ROOT + 'packages/' + m[1] + '/src/index.ts';
        return { url, shortCircuit: true, format: 'module' };
      }
      return next(specifier, context);
    }`;
  register(`data:text/javascript,${encodeURIComponent(hooks)}`);
}

async function main(): Promise<number> {
  const { dirs, backends } = parseArgs(process.argv.slice(2));
  if (backends.includes('webgpu') && !process.env.FAE_PARITY_CHILD) {
    const env = softwareVulkanEnv();
    if (Object.keys(env).some((k) => k !== 'XDG_RUNTIME_DIR')) {
      const r = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
        stdio: 'inherit',
        env: { ...process.env, ...env, FAE_PARITY_CHILD: '1' },
      });
      return r.status ?? 1;
    }
    Object.assign(process.env, env);
  }
  registerSourceResolution();
  const { loadHandlers } = await import('./load-handlers.js');
  const { handlers, errors } = await loadHandlers();
  for (const e of errors) console.error(`warning: could not load parity handler ${e.file}: ${e.error}`);
  const { runParity } = await import('./runner.js');
  const { failed } = await runParity(dirs, backends, handlers);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
