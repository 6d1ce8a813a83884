// Noise-level grids (s = 1 noise -> s = 0 data), uniform in unshifted time then shifted (SD3 form).
import { ConfigError } from '@fae/core';
import { shiftNoiseLevel, unshiftNoiseLevel } from '../flow-matching.js';

export function checkSteps(steps: number, who: string): void {
  if (!Number.isInteger(steps) || steps < 1) throw new ConfigError(who, `steps must be a positive integer, got ${steps}`);
}

/** steps + 1 levels from 1 to 0: shift(linspace(1, 0, steps + 1)) (REPA euler_sampler's grid when shift = 1). */
export function odeTimesteps(steps: number, shift = 1): Float64Array {
  checkSteps(steps, 'odeTimesteps');
  const out = new Float64Array(steps + 1);
  for (let i = 0; i <= steps; i++) out[i] = shiftNoiseLevel(1 - i / steps, shift);
  out[steps] = 0;
  return out;
}

/**
 * REPA euler_maruyama_sampler's grid: `steps` levels from 1 down to `lastStepSize` (0.04), then 0. With a
 * shift, the levels are uniform in unshifted time between 1 and unshift(lastStepSize), so the final
 * deterministic step still spans exactly `lastStepSize`.
 */
export function sdeTimesteps(steps: number, shift = 1, lastStepSize = 0.04): Float64Array {
  checkSteps(steps, 'sdeTimesteps');
  if (!(lastStepSize > 0 && lastStepSize < 1)) throw new ConfigError('sdeTimesteps', `lastStepSize must be in (0, 1), got ${lastStepSize}`);
  const out = new Float64Array(steps + 1);
  const uEnd = unshiftNoiseLevel(lastStepSize, shift);
  for (let i = 0; i < steps; i++) {
    const u = steps === 1 ? 1 : 1 + ((uEnd - 1) * i) / (steps - 1);
    out[i] = shiftNoiseLevel(u, shift);
  }
  if (steps > 1) out[steps - 1] = lastStepSize;
  out[steps] = 0;
  return out;
}
