// The sampler interface: a sampler integrates dx/ds from s = 1 (noise) to s = 0 (data) given a
// velocity function in noise-level time (see flow-matching.ts), independent of the model and guidance.
import type * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '@fae/core';

/**
 * dx/ds at noise level s (s = 1 noise) for x [B, h, w, c]. `guideAt` is the noise level that decides
 * the guidance scale (the step's start, also for Heun's corrector, as REPA's sampler). Returns a new tensor.
 */
export type VelocityFn = (x: tf.Tensor, s: number, guideAt: number) => tf.Tensor;

export interface StepInfo {
  /** 1-based step number. */
  step: number;
  steps: number;
  /** Noise levels at the start and end of the step. */
  s: number;
  sNext: number;
  /** Velocity evaluations (model calls, counting a batched cond/uncond pair as one) so far. */
  nfe: number;
}

export interface SamplerOptions {
  /** Number of steps (>= 1). */
  steps: number;
  /** SD3-style timestep shift factor a (default 1). The FAE paper's 0.4 (LightningDiT form) is a = 2.5. */
  shift?: number;
  /** Generator of the SDE noise (ODE samplers ignore it). */
  rng: Rng;
  /** Called after every step (awaited). */
  onStep?: (info: StepInfo) => void | Promise<void>;
}

/** Integrates from `noise` (not disposed) to a sample; the caller owns the returned tensor. */
export interface Sampler {
  readonly name: string;
  /** Velocity evaluations for `steps` steps. */
  evaluations(steps: number): number;
  run(velocity: VelocityFn, noise: tf.Tensor, opts: SamplerOptions): Promise<tf.Tensor>;
}
