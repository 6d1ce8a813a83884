// Euler ODE sampler (REPA `euler_sampler`): x <- x + (s_next - s) v(x, s) on a uniform (optionally
// shifted) grid from s = 1 to 0. First order: the endpoint error shrinks like 1 / steps.
import * as tf from '@tensorflow/tfjs-core';
import { odeTimesteps } from './timesteps.js';
import type { Sampler, SamplerOptions, VelocityFn } from './types.js';

export const euler: Sampler = {
  name: 'euler',
  evaluations: (steps) => steps,
  async run(velocity: VelocityFn, noise: tf.Tensor, opts: SamplerOptions): Promise<tf.Tensor> {
    const ts = odeTimesteps(opts.steps, opts.shift);
    let x = tf.clone(noise);
    // x is owned here until returned: a throwing velocity or onStep (cancellation) disposes it.
    try {
      for (let i = 0; i < opts.steps; i++) {
        const [s, sNext] = [ts[i], ts[i + 1]];
        const next = tf.tidy(() => tf.add(x, tf.mul(velocity(x, s, s), sNext - s))); // [B, h, w, c]
        x.dispose();
        x = next;
        await opts.onStep?.({ step: i + 1, steps: opts.steps, s, sNext, nfe: i + 1 });
      }
      return x;
    } catch (e) {
      x.dispose();
      throw e;
    }
  },
};
