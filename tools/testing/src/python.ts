// Cross-checks against Python + NumPy (an independent implementation of a file format or a formula).
// Where python3 with numpy is missing they skip with the reason, except under CI=true, where they fail:
// .ci/run installs Debian's python3-numpy, so a skip there would hide a check that must run.
import { spawnSync } from 'node:child_process';
import { IN_CI } from './backends.js';

/** True when `python3 -c 'import numpy'` succeeds. */
export const HAS_NUMPY = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0;

/** Call first in a numpy cross-check: returns when numpy is there; else skips the test, or throws under CI. */
export function requireNumpy(ctx: { skip: (note?: string) => void }, what: string): void {
  if (HAS_NUMPY) return;
  const why = `python3 with numpy is not installed: ${what} cannot run`;
  if (IN_CI) throw new Error(`${why} (CI must have it: .ci/run installs Debian's python3-numpy)`);
  ctx.skip(why);
}
