// What DINOv2 and SigLIP share: embeddings -> N pre-norm transformer layers -> final LayerNorm ->
// (pooling). Outputs like transformers (`last_hidden_state`, `pooler_output`, `hidden_states`) and
// the feature view FAE needs: patch tokens of a chosen layer, normalised by the final LayerNorm
// with or without its affine part, as an NHWC grid [B, h, w, D].
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, LayerNorm, Module, ShapeError } from '@fae/core';
import type { EncoderConfig } from './configs.js';

export interface VisionModelOutput {
  /** [B, T, D]: the final layer after the final LayerNorm. */
  lastHiddenState: tf.Tensor3D;
  /** [B, D]: DINOv2 the normalised CLS token; SigLIP the attention-pooling head (null without head). */
  poolerOutput: tf.Tensor2D | null;
  /** [embeddings, layer 1, ..., layer N] outputs, each [B, T, D] (before the final norm), when asked. */
  hiddenStates: tf.Tensor3D[] | null;
}

export interface RunOptions {
  outputHiddenStates?: boolean;
}

/** 'affine': the final LayerNorm as is; 'no-affine': normalised without its weight/bias (RAE); 'none': raw. */
export type FeatureNorm = 'affine' | 'no-affine' | 'none';

export interface FeatureOptions {
  /**
   * Which hidden state: 0 = embeddings, 1..N = output of that layer, negative counts from the end
   * (-1 = last, the default).
   */
  layer?: number;
  /** Default 'affine' (DINOv2's x_norm_patchtokens). */
  norm?: FeatureNorm;
}

export interface Embedded {
  tokens: tf.Tensor3D; // [B, T, D]
  gridH: number;
  gridW: number;
}

export abstract class ViTBackbone extends Module {
  abstract readonly config: EncoderConfig;
  /** Tokens before the patch tokens (CLS + registers for DINOv2, none for SigLIP). */
  abstract readonly numPrefixTokens: number;
  protected abstract layerAt(i: number): Module & { forward(x: tf.Tensor): tf.Tensor };
  protected abstract get finalNorm(): LayerNorm;
  /** pixel values [B, H, W, C] -> tokens [B, T, D] with prefix tokens and position embeddings. */
  abstract embed(pixelValues: tf.Tensor): Embedded;
  /** Pooled output from the normalised last hidden state. */
  protected abstract pool(lastHiddenState: tf.Tensor): tf.Tensor2D | null;

  get numLayers(): number {
    return this.config.numHiddenLayers;
  }

  /**
   * Runs layers [0, upTo), freeing each layer's input as soon as its output exists, so the enclosing
   * tidy holds one layer's tokens rather than all N (DINOv2-g at batch 64: 100 MB instead of 4 GB).
   * Safe under tf.grad: the tape keeps its own references to what the backward pass needs.
   */
  private runLayers(x: tf.Tensor, upTo: number, keep?: tf.Tensor[]): tf.Tensor {
    for (let i = 0; i < upTo; i++) {
      const y = this.layerAt(i).forward(x); // [B, T, D]
      if (keep) keep.push(y);
      else x.dispose();
      x = y;
    }
    return x;
  }

  /** pixel values [B, H, W, C] (NHWC, already preprocessed) -> last_hidden_state [B, T, D]. */
  forward(pixelValues: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.finalNorm.forward(this.runLayers(this.embed(pixelValues).tokens, this.numLayers)));
  }

  /** Full outputs, as transformers returns them. The caller disposes every returned tensor. */
  run(pixelValues: tf.Tensor, opts: RunOptions = {}): VisionModelOutput {
    return tf.tidy(() => {
      const emb = this.embed(pixelValues).tokens; // [B, T, D]
      const hidden: tf.Tensor[] | undefined = opts.outputHiddenStates ? [emb] : undefined;
      const x = this.runLayers(emb, this.numLayers, hidden);
      const last = this.finalNorm.forward(x) as tf.Tensor3D; // [B, T, D]
      const pooled = this.pool(last);
      return { lastHiddenState: last, poolerOutput: pooled, hiddenStates: hidden ?? null } as unknown as tf.TensorContainerObject;
    }) as unknown as VisionModelOutput;
  }

  /** Resolves a layer option to 0..N. */
  resolveLayer(layer = -1): number {
    const n = this.numLayers;
    const l = layer < 0 ? n + 1 + layer : layer;
    if (!Number.isInteger(layer) || l < 0 || l > n) throw new ConfigError('features', `layer ${layer} is out of range (0..${n}, or -1..-${n + 1})`);
    return l;
  }

  /**
   * Patch-token features [B, h, w, D] (NHWC) of hidden state `layer`, CLS/register tokens dropped,
   * after the final LayerNorm (with or without affine) or raw. Runs only the layers it needs.
   */
  features(pixelValues: tf.Tensor, opts: FeatureOptions = {}): tf.Tensor4D {
    const layer = this.resolveLayer(opts.layer);
    const norm = opts.norm ?? 'affine';
    if (!['affine', 'no-affine', 'none'].includes(norm)) throw new ConfigError('features', `norm must be 'affine', 'no-affine' or 'none', got '${norm}'`);
    return tf.tidy(() => {
      const { tokens, gridH, gridW } = this.embed(pixelValues);
      let x = this.runLayers(tokens, layer);
      if (norm !== 'none') x = this.finalNorm.forward(x, { affine: norm === 'affine' });
      const [b, t, d] = x.shape;
      if (t !== this.numPrefixTokens + gridH * gridW) throw new ShapeError('tokens', `${this.numPrefixTokens} + ${gridH}x${gridW}`, String(t));
      const patches = tf.slice(x, [0, this.numPrefixTokens, 0], [b, gridH * gridW, d]); // [B, h*w, D]
      return tf.reshape(patches, [b, gridH, gridW, d]) as tf.Tensor4D; // [B, h, w, D]
    });
  }
}
