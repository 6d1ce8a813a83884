// The frozen encoder of the MNIST example: a small ViT of @fae/encoders' DINOv2 architecture
// (Dinov2Model, transformers' key layout), pretrained by our own masked-image modelling (SimMIM,
// Xie et al. 2022: masked patch tokens are replaced by DINOv2's `mask_token`, a linear head on the
// final-norm tokens regresses the masked patches' pixels with an L1 loss), then frozen.
//
//   images [B, 28, 28, 3] in [-1, 1] -> patch 4 -> 7 x 7 tokens (+ CLS) -> N DINOv2 layers -> layernorm
//   FAE features: patch tokens after the final LayerNorm, [B, 7, 7, D]
import * as tf from '@tensorflow/tfjs-core';
import { Linear, Module, Rng, ShapeError } from '@fae/core';
import { Dinov2Model, parseDinov2Config, type Dinov2Config } from '@fae/encoders';

/** config.json of the digit encoder, in transformers' Dinov2Config format (loadEncoder reads it too). */
export interface DigitEncoderConfigJson {
  model_type: 'dinov2';
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  mlp_ratio: number;
  hidden_act: string;
  layer_norm_eps: number;
  image_size: number;
  patch_size: number;
  num_channels: number;
  qkv_bias: boolean;
  use_swiglu_ffn: boolean;
  use_mask_token: boolean;
  layerscale_value: number;
  /** Not transformers': how it was pretrained (for people reading the checkpoint). */
  fae_pretraining?: string;
}

export const DIGIT_ENCODER_CONFIG: DigitEncoderConfigJson = {
  model_type: 'dinov2',
  hidden_size: 64,
  num_hidden_layers: 3,
  num_attention_heads: 4,
  mlp_ratio: 4,
  hidden_act: 'gelu',
  layer_norm_eps: 1e-6,
  image_size: 28,
  patch_size: 4,
  num_channels: 3,
  qkv_bias: true,
  use_swiglu_ffn: false,
  use_mask_token: true,
  layerscale_value: 1.0,
  fae_pretraining: 'SimMIM masked-image modelling on the MNIST training split (mask ratio 0.5, L1 on masked 4x4 patches)',
};

export function buildDigitEncoder(json: DigitEncoderConfigJson = DIGIT_ENCODER_CONFIG): Dinov2Model {
  return new Dinov2Model(parseDinov2Config(json as unknown as Record<string, unknown>, 'digit encoder config'));
}

/** Patch features [B, h, w, D] of the frozen encoder (after the final LayerNorm, DINOv2's x_norm_patchtokens). */
export function encodeDigits(encoder: Dinov2Model, images: tf.Tensor): tf.Tensor4D {
  return encoder.features(images, { layer: -1, norm: 'affine' });
}

/** The SimMIM head: final-norm token [D] -> the p x p grey pixels of its patch. */
export class MimHead extends Module {
  readonly proj: Linear;
  constructor(readonly dim: number, readonly patch: number, seed?: number) {
    super();
    this.proj = this.addModule('proj', new Linear(dim, patch * patch, { seed }));
  }
  forward(tokens: tf.Tensor): tf.Tensor {
    return this.proj.forward(tokens);
  }
}

/** grey images [B, H, W, 1] -> patches [B, (H/p)*(W/p), p*p] in token order (row-major grid). */
export function patchify(grey: tf.Tensor, p: number): tf.Tensor {
  return tf.tidy(() => {
    const [b, h, w] = grey.shape;
    const x = tf.reshape(grey, [b, h / p, p, w / p, p]); // [B, gh, p, gw, p]
    return tf.reshape(tf.transpose(x, [0, 1, 3, 2, 4]), [b, (h / p) * (w / p), p * p]); // [B, T, p*p]
  });
}

/**
 * SimMIM loss of a batch: `mask` [B, T] (1 = masked) chooses the patch tokens replaced by mask_token
 * before the position embeddings are added; L1 between the head's prediction and the true pixels,
 * averaged over masked patches. Built from Dinov2Model's own parts (embeddings, layers, layernorm).
 */
export function mimLoss(encoder: Dinov2Model, head: MimHead, images: tf.Tensor, mask: tf.Tensor): tf.Scalar {
  const cfg: Dinov2Config = encoder.config;
  const emb = encoder.embeddings;
  if (!emb.maskToken) throw new ShapeError('digit encoder', 'a mask_token (use_mask_token: true)', 'none');
  return tf.tidy(() => {
    const [b, height, width] = images.shape;
    const p = cfg.patchSize;
    const [h, w] = [height! / p, width! / p];
    const d = cfg.hiddenSize;
    const patches = emb.patchEmbeddings.forward(images); // [B, T, D]
    const m = tf.expandDims(mask, 2); // [B, T, 1]
    const mixed = tf.add(tf.mul(patches, tf.sub(1, m)), tf.mul(tf.reshape(emb.maskToken!, [1, 1, d]), m)); // [B, T, D]
    const cls = tf.broadcastTo(emb.clsToken, [b!, 1, d]); // [B, 1, D]
    let x: tf.Tensor = tf.add(tf.concat([cls, mixed], 1), emb.positionsFor(h, w, height!, width!)); // [B, 1+T, D]
    for (const layer of encoder.encoder.layer) x = layer.forward(x); // [B, 1+T, D]
    x = encoder.layernorm.forward(x); // [B, 1+T, D]
    const tokens = tf.slice(x, [0, 1, 0], [b!, h * w, d]); // [B, T, D]
    const pred = head.forward(tokens); // [B, T, p*p]
    const grey = tf.mean(images, 3, true); // [B, H, W, 1]
    const target = patchify(grey, p); // [B, T, p*p]
    const err = tf.mean(tf.abs(tf.sub(pred, target)), 2); // [B, T]
    return tf.div(tf.sum(tf.mul(err, mask)), tf.maximum(tf.sum(mask), 1)) as tf.Scalar;
  });
}

/** A random mask [B, T] with exactly round(ratio * T) ones per row (seeded). */
export function randomPatchMask(rng: Rng, batch: number, tokens: number, ratio: number): tf.Tensor2D {
  const k = Math.round(ratio * tokens);
  const data = new Float32Array(batch * tokens);
  for (let i = 0; i < batch; i++) {
    const perm = rng.permutation(tokens);
    for (let j = 0; j < k; j++) data[i * tokens + perm[j]] = 1;
  }
  return tf.tensor2d(data, [batch, tokens]);
}
