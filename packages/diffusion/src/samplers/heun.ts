// Heun ODE sampler (REPA `euler_sampler(heun=True)`): an Euler predictor, then the trapezoidal
// corrector x <- x + (s_next - s) (v(x, s) + v(x_pred, s_next)) / 2 on every step but the last (which
// ends at the data, s = 0, and stays an Euler step, as REPA). Second order: error ~ 1 / steps^2.
// The corrector's guidance scale is the one of the step's start, as REPA.
import * as tf from '@tensorflow/tfjs-core';
import { odeTimesteps } from './timesteps.js';
import type { Sampler, SamplerOptions, VelocityFn } from './types.js';

export const heun: Sampler = {
  name: 'heun',
  evaluations: (steps) => 2 * steps - 1,
  async run(velocity: VelocityFn, noise: tf.Tensor, opts: SamplerOptions): Promise<tf.Tensor> {
    const ts = odeTimesteps(opts.steps, opts.shift);
    let x = tf.clone(noise);
    let nfe = 0;
    // x is owned here until returned: a throwing velocity or onStep (cancellation) disposes it.
    try {
      for (let i = 0; i < opts.steps; i++) {
        const [s, sNext] = [ts[i], ts[i + 1]];
        const last = i === opts.steps - 1;
        const next = tf.tidy(() => {
          const d = velocity(x, s, s); // [B, h, w, c]
          const pred = tf.add(x, tf.mul(d, sNext - s));
          if (last) return pred;
          const d2 = velocity(pred, sNext, s);
          return tf.add(x, tf.mul(tf.add(d, d2), 0.5 * (sNext - s)));
        });
        nfe += last ? 1 : 2;
        x.dispose();
        x = next;
        await opts.onStep?.({ step: i + 1, steps: opts.steps, s, sNext, nfe });
      }
      return x;
    } catch (e) {
      x.dispose();
      throw e;
    }
  },
};
