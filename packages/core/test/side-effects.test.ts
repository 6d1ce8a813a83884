// `sideEffects` is honest: a package whose source registers components at import time (a top-level
// registerComponent call) keeps it in package.json "sideEffects", so bundlers keep the registration:
// a published package names every bundle it ships (dist/node ESM + CJS, dist/browser: tsup bundles each
// entry into one file, and only dist is shipped); a private workspace package run from source names
// the source file.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { expect, it } from 'vitest';
import { REPO_ROOT } from '@fae/testing';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : /\.ts$/.test(n) ? [p] : [];
  });
}

it('every package that registers components at import declares it in sideEffects', () => {
  const checked: string[] = [];
  for (const group of ['packages', 'examples']) {
    for (const name of readdirSync(join(REPO_ROOT, group))) {
      const dir = join(REPO_ROOT, group, name);
      let pkg: { name: string; private?: boolean; sideEffects?: boolean | string[] };
      try {
        pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      } catch {
        continue;
      }
      let src: string[];
      try {
        src = files(join(dir, 'src'));
      } catch {
        continue;
      }
      const registering = src.filter((f) => /^registerComponent\(/m.test(readFileSync(f, 'utf8')));
      if (!registering.length) continue;
      const se = pkg.sideEffects;
      for (const f of registering) {
        const rel = `./${relative(dir, f)}`;
        checked.push(`${pkg.name} ${rel}`);
        // No field (or true) keeps every module; a list must name the file and the bundle.
        if (se === undefined || se === true) continue;
        expect(se, `${pkg.name}: sideEffects must not be false (${rel} registers components)`).not.toBe(false);
        if (pkg.private) {
          expect(se as string[], `${pkg.name} sideEffects`).toContain(rel);
        } else {
          for (const bundle of ['./dist/node/index.js', './dist/node/index.cjs', './dist/browser/index.js']) {
            expect(se as string[], `${pkg.name}: sideEffects names its bundle ${bundle}`).toContain(bundle);
          }
        }
      }
    }
  }
  expect(checked.length).toBeGreaterThanOrEqual(6); // adapter, decoders, diffusion, flow, encoders, the CLI example
});
