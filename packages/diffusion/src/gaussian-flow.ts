// A velocity model with a known answer, for testing samplers and guidance: data x ~ N(mu_y, std^2 I)
// per class y (mu_y one value per channel). With x_s = (1 - s) x + s eps the exact flow-matching velocity is
//   v(x, s) = E[eps - x | x_s] = (s - (1 - s) std^2) / S^2 (x - (1 - s) mu) - mu,  S^2 = (1 - s)^2 std^2 + s^2,
// and the ODE from s = 1 carries noise eps to exactly mu + std * eps.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '@fae/core';
import type { TimeConvention } from './config.js';
import type { VelocityModel } from './velocity-model.js';

export interface GaussianFlowOptions {
  /** Per-class channel means [classes][c]; with `nullMean`, the null class is id `means.length`. */
  means: number[][];
  std: number;
  /** Mean of the unconditional model (a Gaussian standing in for it), enabling guidance. */
  nullMean?: number[];
  latentShape: [number, number, number];
  /** Convention the model answers in (default 'noise-at-1'). */
  timeConvention?: TimeConvention;
}

export class GaussianFlowModel implements VelocityModel {
  readonly timeConvention: TimeConvention;
  readonly nullClass: number | null;
  readonly latentShape: [number, number, number];
  readonly std: number;
  private readonly table: number[][];

  constructor(opts: GaussianFlowOptions) {
    const c = opts.latentShape[2];
    this.table = opts.nullMean ? [...opts.means, opts.nullMean] : opts.means.slice();
    if (this.table.some((m) => m.length !== c)) throw new ConfigError('GaussianFlowModel', `every mean needs ${c} channel values`);
    this.nullClass = opts.nullMean ? opts.means.length : null;
    this.latentShape = opts.latentShape;
    this.std = opts.std;
    this.timeConvention = opts.timeConvention ?? 'noise-at-1';
  }

  /** x: [B, h, w, c], t: [B] (model convention), y: [B] -> exact velocity in the model's convention. */
  forward(x: tf.Tensor, t: tf.Tensor, y: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const b = x.shape[0];
      const c = x.shape[3]!;
      const dataAt1 = this.timeConvention === 'data-at-1';
      const s = tf.reshape(dataAt1 ? tf.sub(1, t) : t, [b, 1, 1, 1]); // noise level
      const mu = tf.reshape(tf.gather(tf.tensor2d(this.table), tf.cast(y, 'int32')), [b, 1, 1, c]); // [B, 1, 1, c]
      const oneMinus = tf.sub(1, s);
      const var2 = this.std * this.std;
      const S2 = tf.add(tf.mul(tf.square(oneMinus), var2), tf.square(s));
      const coef = tf.div(tf.sub(s, tf.mul(oneMinus, var2)), S2);
      const v = tf.sub(tf.mul(coef, tf.sub(x, tf.mul(oneMinus, mu))), mu); // [B, h, w, c] = d x / d s
      return dataAt1 ? tf.neg(v) : v;
    });
  }

  /** Where the exact ODE takes `noise` [B, h, w, c]: mu_y + std * noise. */
  exactSample(noise: tf.Tensor, labels: ArrayLike<number>): tf.Tensor {
    return tf.tidy(() => {
      const [b, , , c] = noise.shape as number[];
      const mu = tf.reshape(tf.gather(tf.tensor2d(this.table), tf.tensor1d(Array.from(labels), 'int32')), [b, 1, 1, c]);
      return tf.add(mu, tf.mul(noise, this.std));
    });
  }

  /** Channel means of class y. */
  meanOf(y: number): number[] {
    return this.table[y].slice();
  }
}
