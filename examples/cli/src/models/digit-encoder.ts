// The frozen encoder of the MNIST example: a small ViT of @fae/encoders' DINOv2 architecture
// (Dinov2Model, transformers' key layout), pretrained by our own masked-image modelling (SimMIM,
// Xie et al. 2022: masked patch tokens are replaced by DINOv2's `mask_token`, a linear head on the
// final-norm tokens regresses the masked patches' pixels with an L1 loss), then frozen.
//
//   images [B, 28, 28, 3] in [-1, 1] -> patch 4 -> 7 x 7 tokens (+ CLS) -> N DINOv2 layers -> layernorm
//   FAE features: patch tokens after the final LayerNorm, [B, 7, 7, D]
// The SimMIM pieces (head, loss, masks) are @fae/pipeline's (train/mim.ts), shared with its recipes.
import * as tf from '@tensorflow/tfjs-core';
import { Dinov2Model, parseDinov2Config } from '@fae/encoders';

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
