// Node module hooks that load TensorFlow.js packages the way bundlers (and vitest) do: from their ESM
// builds (the package.json "module" entry, `dist/*.js` with extensionless relative imports). Plain
// Node would otherwise load tfjs-core's CommonJS bundle for `@tensorflow/tfjs-core` but the ESM file
// for deep imports such as `@tensorflow/tfjs-core/dist/register_all_gradients` (which @fae/core
// performs to register op gradients) and fail on its directory imports. One ESM copy of each tfjs
// package is loaded, as in a bundle.
import { readFile } from 'node:fs/promises';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';

const ESM_PACKAGES = /^(@tensorflow\/tfjs-(?:core|backend-cpu|backend-wasm|backend-webgpu|backend-webgl))(\/.*)?$/;
const TF_DIST = /\/node_modules\/@tensorflow\/tfjs-[\w-]+\/dist\//;
const require = createRequire(import.meta.url);

function packageDir(name) {
  return dirname(require.resolve(`${name}/package.json`));
}

function isFile(p) {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

export async function resolve(specifier, context, next) {
  const m = ESM_PACKAGES.exec(specifier);
  if (m) {
    let dir;
    try {
      dir = packageDir(m[1]);
    } catch {
      return next(specifier, context);
    }
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const target = m[2] ? join(dir, m[2]) : join(dir, pkg.module ?? pkg.main);
    const file = isFile(target) ? target : isFile(`${target}.js`) ? `${target}.js` : join(target, 'index.js');
    return { url: pathToFileURL(file).href, shortCircuit: true };
  }
  if (specifier === 'seedrandom' && context.parentURL && TF_DIST.test(context.parentURL)) {
    return { url: new URL('./seedrandom-shim.mjs', import.meta.url).href, shortCircuit: true };
  }
  if (context.parentURL && TF_DIST.test(context.parentURL) && (specifier.startsWith('./') || specifier.startsWith('../'))) {
    const base = fileURLToPath(new URL(specifier, context.parentURL));
    if (!isFile(base)) {
      const file = isFile(`${base}.js`) ? `${base}.js` : existsSync(join(base, 'index.js')) ? join(base, 'index.js') : null;
      if (file) return { url: pathToFileURL(file).href, shortCircuit: true };
    }
  }
  return next(specifier, context);
}

const ESM_SYNTAX = /^\s*(import\s+[\w*{'"]|export\s+(\*|\{|default|const|function|class|let|var|async))/m;

export async function load(url, context, next) {
  if (url.startsWith('file:') && TF_DIST.test(url) && url.endsWith('.js')) {
    const source = await readFile(fileURLToPath(url), 'utf8');
    if (ESM_SYNTAX.test(source)) {
      // CommonJS globals some of these ESM files still use in Node (`require('util')`, __dirname).
      const prelude = /\b(require|__dirname|__filename)\b/.test(source)
        ? `import { createRequire as __faeCreateRequire } from 'node:module'; const require = __faeCreateRequire(import.meta.url); const __filename = ${JSON.stringify(fileURLToPath(url))}; const __dirname = ${JSON.stringify(dirname(fileURLToPath(url)))};`
        : '';
      return { format: 'module', source: prelude + source, shortCircuit: true };
    }
  }
  return next(url, context);
}
