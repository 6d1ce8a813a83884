// `node --import tsx --import ./src/use-sources.mjs ...`: resolves `@fae/<package>` to the package's
// TypeScript sources (packages/<package>/src/index.ts, tools/testing/src/index.ts), so the benchmarks
// run on the working tree without a build, with one copy of each package (the bundle of
// device/prepare.sh aliases the same paths).
import { register } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = pathToFileURL(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..') + '/').href;
register(`data:text/javascript,${encodeURIComponent(`
  export async function resolve(specifier, context, next) {
    const m = /^@fae\\/([a-z]+)$/.exec(specifier);
    if (m && m[1] !== 'bench') {
      const path = m[1] === 'testing' ? 'tools/testing/src/index.ts' : 'packages/' + m[1] + '/src/index.ts';
      return { url: ${JSON.stringify(root)} + path, shortCircuit: true, format: 'module' };
    }
    return next(specifier, context);
  }`)}`);
