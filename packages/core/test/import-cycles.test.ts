// No import cycles between source files anywhere in the workspace (packages, examples, tools): the
// dependency direction core <- model packages <- pipeline <- examples holds file by file.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { importCycles, importGraph } from '@fae/testing';

it('no source file imports itself through a chain of imports', () => {
  expect(importGraph().size).toBeGreaterThan(100);
  expect(importCycles()).toEqual([]);
});

it('the scan finds a cycle through a type-only import and across packages (@fae/<name>)', () => {
  const root = mkdtempSync(join(tmpdir(), 'fae-cycles-'));
  try {
    const put = (path: string, text: string) => {
      mkdirSync(join(root, path, '..'), { recursive: true });
      writeFileSync(join(root, path), text);
    };
    put('packages/a/src/index.ts', "export * from './x.js';\n");
    put('packages/a/src/x.ts', "import type { Y } from './y.js';\nexport type X = Y;\n");
    put('packages/a/src/y.ts', "import {\n  type X,\n} from './x.js';\nexport type Y = number;\n");
    put('packages/b/src/index.ts', "import '@fae/c';\n");
    put('packages/c/src/index.ts', "export { z } from '@fae/b';\n");
    expect(importCycles(root)).toEqual([
      ['packages/a/src/x.ts', 'packages/a/src/y.ts'],
      ['packages/b/src/index.ts', 'packages/c/src/index.ts'],
    ]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
