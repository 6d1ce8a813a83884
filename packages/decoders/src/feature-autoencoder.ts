// FeatureAutoEncoder: the adapter (SingleAttentionEncoder) and the FeatureDecoder trained together in
// stage Ib, and the latent interface generators use:
//   encode(features [B,h,w,D]) -> normalised latents [B,h,w,c]   (posterior mean, latent statistics)
//   decode(latents [B,h,w,c])  -> features [B,h,w,D]             (statistics removed, then the decoder)
// State-dict keys: encoder.*, decoder.*. Each part is also saved as its own component folder.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Module } from '@fae/core';
import {
  LatentStatsAccumulator, SingleAttentionEncoder, type LatentStats, type NormalSource, type SingleAttentionEncoderConfig,
} from '@fae/adapter';
import { FeatureDecoder } from './feature-decoder.js';
import type { FeatureDecoderConfig } from './config.js';
import { featureAutoEncoderLoss, tidyObject, type FeatureAutoEncoderLoss, type FeatureAutoEncoderLossOptions } from './losses.js';

export interface FeatureAutoEncoderOutput {
  /** Reconstructed features [B, h, w, D]. */
  recon: tf.Tensor;
  mean: tf.Tensor;
  logvar: tf.Tensor;
  /** The latent the decoder saw [B, h, w, c]. */
  z: tf.Tensor;
}

export class FeatureAutoEncoder extends Module {
  readonly encoder: SingleAttentionEncoder;
  readonly decoder: FeatureDecoder;

  /** Builds both parts from configs, or takes existing modules (ownership passes to this object). */
  constructor(encoder: SingleAttentionEncoder | Partial<SingleAttentionEncoderConfig>, decoder: FeatureDecoder | Partial<FeatureDecoderConfig>) {
    super();
    this.encoder = this.addModule('encoder', encoder instanceof SingleAttentionEncoder ? encoder : new SingleAttentionEncoder(encoder));
    const dec = decoder instanceof FeatureDecoder
      ? decoder
      : new FeatureDecoder({ latentChannels: this.encoder.latentChannels, outputDim: this.encoder.inputDim, gridSize: this.encoder.config.gridSize, ...decoder });
    this.decoder = this.addModule('decoder', dec);
    if (this.decoder.latentChannels !== this.encoder.latentChannels || this.decoder.outputDim !== this.encoder.inputDim) {
      throw new ConfigError('FeatureAutoEncoder', `encoder ${this.encoder.inputDim} -> ${this.encoder.latentChannels} does not match decoder ${this.decoder.latentChannels} -> ${this.decoder.outputDim}`);
    }
  }

  /** Training pass: posterior, z (sampled when `sample`), reconstruction. features [B,h,w,D]. */
  forward(features: tf.Tensor, opts: { sample?: boolean; rng?: NormalSource } = {}): FeatureAutoEncoderOutput {
    return tf.tidy(() => {
      const { mean, logvar, z } = this.encoder.encode(features, opts);
      return { recon: this.decoder.forward(z), mean, logvar, z };
    });
  }

  /** Stage Ib loss of a batch (z sampled; see featureAutoEncoderLoss). */
  loss(features: tf.Tensor, opts: FeatureAutoEncoderLossOptions & { rng?: NormalSource; sample?: boolean } = {}): FeatureAutoEncoderLoss {
    return tidyObject(() => {
      const out = this.forward(features, { sample: opts.sample ?? true, rng: opts.rng });
      return featureAutoEncoderLoss(out.recon, features, out.mean, out.logvar, opts);
    });
  }

  /** features [B,h,w,D] -> generator latents [B,h,w,c]: normalised posterior means. */
  encode(features: tf.Tensor): tf.Tensor {
    return this.encoder.latents(features);
  }

  /** generator latents [B,h,w,c] -> features [B,h,w,D]. */
  decode(latents: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.decoder.forward(this.encoder.denormalize(latents)));
  }

  /** features -> decoded posterior mean: the x^ that stage II fine-tunes the pixel decoder on. */
  reconstruct(features: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const { mean, logvar, z } = this.encoder.encode(features);
      tf.dispose([logvar, z]);
      return this.decoder.forward(mean);
    });
  }

  /**
   * Computes the per-channel statistics of the posterior means over `batches` (features [B,h,w,D],
   * or objects with `features`, e.g. a FeatureCache's batches) and stores them in the encoder, so
   * encode() / decode() normalise with them. Batch tensors are disposed.
   */
  async fitLatentStats(batches: AsyncIterable<tf.Tensor | { features: tf.Tensor }> | Iterable<tf.Tensor | { features: tf.Tensor }>): Promise<LatentStats> {
    const acc = new LatentStatsAccumulator(this.encoder.latentChannels);
    for await (const b of batches) {
      const features = b instanceof tf.Tensor ? b : b.features;
      const { mean, logvar, z } = this.encoder.encode(features);
      try {
        await acc.add(mean);
      } finally {
        tf.dispose([mean, logvar, z, ...(b instanceof tf.Tensor ? [b] : (Object.values(b).filter((v) => v instanceof tf.Tensor) as tf.Tensor[]))]);
      }
    }
    const stats = acc.result();
    this.encoder.setLatentStats(stats);
    return stats;
  }
}
