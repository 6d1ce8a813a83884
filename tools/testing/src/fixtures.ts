// Access to ../shared/fixtures (golden outputs of the PyTorch references). Tests read them in place.
// Where ../shared is absent (a user's fresh clone) fixture tests skip with a message; under CI=true
// they fail instead.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';
import { IN_CI } from './backends.js';

/** The repository root (three levels above tools/testing/src). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** ../shared beside the repository, or FAE_SHARED. */
export const SHARED_DIR = process.env.FAE_SHARED ?? resolve(REPO_ROOT, '..', 'shared');
export const FIXTURES_DIR = join(SHARED_DIR, 'fixtures');

/** Absolute path of a fixture (e.g. fixturePath('encoders', 'dinov2_0')), or null when absent. */
export function fixturePath(...parts: string[]): string | null {
  const p = join(FIXTURES_DIR, ...parts);
  return existsSync(p) ? p : null;
}

/**
 * describe() over a fixture directory. Absent: skipped with a clear message, or a failing test
 * under CI=true (CI always has ../shared).
 */
export function describeFixture(name: string, parts: string[], fn: (dir: string) => void): void {
  const dir = fixturePath(...parts);
  if (dir) {
    describe(name, () => fn(dir));
    return;
  }
  const msg = `fixture ${parts.join('/')} not found under ${FIXTURES_DIR} (set FAE_SHARED to the shared folder)`;
  if (IN_CI) describe(name, () => it('fixture is present', () => { throw new Error(msg); }));
  else describe.skip(`${name} (skipped: ${msg})`, () => it('needs fixtures', () => {}));
}
