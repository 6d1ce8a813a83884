// What samplers and the flow-matching loss need from a generator: a velocity field over latents.
import type * as tf from '@tensorflow/tfjs-core';
import type { TimeConvention } from './config.js';

export interface VelocityModel {
  /** How the model reads t (see TimeConvention). LightningDiT/SiT: 'data-at-1'. */
  readonly timeConvention: TimeConvention;
  /** Label id of the unconditional (null) class, or null when the model has none (no guidance). */
  readonly nullClass: number | null;
  /** Default latent shape [h, w, c] for sampling. */
  readonly latentShape?: [number, number, number];
  /** x: [B, h, w, c], t: [B] in the model's convention, y: [B] int -> velocity [B, h, w, c]. */
  forward(x: tf.Tensor, t: tf.Tensor, y: tf.Tensor): tf.Tensor;
}
