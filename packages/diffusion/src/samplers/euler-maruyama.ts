// Euler-Maruyama SDE sampler (REPA `euler_maruyama_sampler`), linear path alpha = 1 - s, sigma = s:
//   diffusion g^2(s) = 2 s; score from velocity  score = (-(1 - s) v - x) / s;
//   drift d = v - (g^2 / 2) score;  x <- x + d ds + sqrt(g^2) sqrt(|ds|) N(0, I)
// on `steps` levels from 1 to lastStepSize (0.04), then one deterministic (mean) step to s = 0.
// Guidance, when used, is applied to the velocity (the drift is affine in v with the same x, so this
// equals REPA's guidance on the drift).
import * as tf from '@tensorflow/tfjs-core';
import { sdeTimesteps } from './timesteps.js';
import type { Sampler, SamplerOptions, VelocityFn } from './types.js';

/** The reverse-SDE drift for velocity v at noise level s: v - s * score = (2 - s) v + x. */
function drift(v: tf.Tensor, x: tf.Tensor, s: number): tf.Tensor {
  return tf.tidy(() => {
    const score = tf.div(tf.sub(tf.mul(v, -(1 - s)), x), s); // [B, h, w, c]
    return tf.sub(v, tf.mul(score, s)); // g^2 / 2 = s
  });
}

/** Euler-Maruyama with REPA's schedule; `lastStepSize` is where the stochastic steps stop. */
export function eulerMaruyamaWith(opts: { lastStepSize?: number } = {}): Sampler {
  const lastStepSize = opts.lastStepSize ?? 0.04;
  return {
    name: 'euler-maruyama',
    evaluations: (steps) => steps,
    async run(velocity: VelocityFn, noise: tf.Tensor, o: SamplerOptions): Promise<tf.Tensor> {
      const ts = sdeTimesteps(o.steps, o.shift, lastStepSize);
      let x = tf.clone(noise);
      // x is owned here until returned: a throwing velocity or onStep (cancellation) disposes it.
      try {
        for (let i = 0; i < o.steps; i++) {
          const [s, sNext] = [ts[i], ts[i + 1]];
          const ds = sNext - s;
          const deterministic = i === o.steps - 1;
          const eps = deterministic ? null : o.rng.normal(x.shape);
          let next: tf.Tensor;
          try {
            next = tf.tidy(() => {
              const d = drift(velocity(x, s, s), x, s);
              const mean = tf.add(x, tf.mul(d, ds)); // [B, h, w, c]
              return eps ? tf.add(mean, tf.mul(eps, Math.sqrt(2 * s) * Math.sqrt(Math.abs(ds)))) : mean;
            });
          } finally {
            eps?.dispose();
          }
          x.dispose();
          x = next;
          await o.onStep?.({ step: i + 1, steps: o.steps, s, sNext, nfe: i + 1 });
        }
        return x;
      } catch (e) {
        x.dispose();
        throw e;
      }
    },
  };
}

export const eulerMaruyama: Sampler = eulerMaruyamaWith();
