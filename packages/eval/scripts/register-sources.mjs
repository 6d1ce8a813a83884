// Lets `node --import tsx --import ./scripts/register-sources.mjs <file.ts>` (CLI test, bench) resolve
// `@fae/<pkg>` to packages/<pkg>/src/index.ts (the sources, as vitest does), so no build is needed.
import { register } from 'node:module';

const root = new URL('../../../', import.meta.url).href;
const hooks = `
  const ROOT = ${JSON.stringify(root)};
  export async function resolve(specifier, context, next) {
    const m = /^@fae\\/([a-z]+)$/.exec(specifier);
    if (m) return { url: m[1] === 'testing' ? ROOT + 'tools/testing/src/index.ts' : ROOT + 'packages/' + m[1] + '/src/index.ts', shortCircuit: true, format: 'module' };
    return next(specifier, context);
  }`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);
