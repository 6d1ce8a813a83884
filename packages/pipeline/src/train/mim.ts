// Masked-image-modelling pretraining (SimMIM, Xie et al. 2022) of a small DINOv2-architecture encoder,
// for recipes that bring their own encoder (digits, smoke): half of the patch tokens are replaced by
// DINOv2's mask_token before the position embeddings, and a linear head on the final-norm tokens
// regresses the masked patches' grey pixels (L1, averaged over masked patches).
import * as tf from '@tensorflow/tfjs-core';
import { Linear, Module, Rng, ShapeError, patchify } from '@fae/core';
import type { Dinov2Model } from '@fae/encoders';

/** The SimMIM head: final-norm token [D] -> the p x p grey pixels of its patch. */
export class MimHead extends Module {
  readonly proj: Linear;
  constructor(readonly dim: number, readonly patch: number, seed?: number) {
    super();
    this.proj = this.addModule('proj', new Linear(dim, patch * patch, { seed }));
  }
  forward(tokens: tf.Tensor): tf.Tensor {
    return this.proj.forward(tokens); // [B, T, p*p]
  }
}

/** Encoder + head as one module (the optimiser's variables, the checkpoint's modules). */
export class MimPretraining extends Module {
  constructor(readonly encoder: Dinov2Model, readonly head: MimHead) {
    super();
    this.addModule('encoder', encoder);
    this.addModule('head', head);
  }
}

/** SimMIM loss of pixel values [B, H, W, 3] with `mask` [B, T] (1 = masked). */
export function mimLoss(encoder: Dinov2Model, head: MimHead, pixels: tf.Tensor, mask: tf.Tensor): tf.Scalar {
  const emb = encoder.embeddings;
  if (!emb.maskToken) throw new ShapeError('MIM encoder', 'a mask_token (use_mask_token: true)', 'none');
  return tf.tidy(() => {
    const [b, height, width] = pixels.shape;
    const p = encoder.config.patchSize;
    const [h, w] = [height! / p, width! / p];
    const d = encoder.config.hiddenSize;
    const patches = emb.patchEmbeddings.forward(pixels); // [B, T, D]
    const m = tf.expandDims(mask, 2); // [B, T, 1]
    const mixed = tf.add(tf.mul(patches, tf.sub(1, m)), tf.mul(tf.reshape(emb.maskToken!, [1, 1, d]), m)); // [B, T, D]
    const cls = tf.broadcastTo(emb.clsToken, [b!, 1, d]); // [B, 1, D]
    let x: tf.Tensor = tf.add(tf.concat([cls, mixed], 1), emb.positionsFor(h, w, height!, width!)); // [B, 1+T, D]
    for (const layer of encoder.encoder.layer) x = layer.forward(x); // [B, 1+T, D]
    x = encoder.layernorm.forward(x); // [B, 1+T, D]
    const tokens = tf.slice(x, [0, 1, 0], [b!, h * w, d]); // [B, T, D]
    const pred = head.forward(tokens); // [B, T, p*p]
    const target = patchify(tf.mean(pixels, 3, true), p); // grey [B, H, W, 1] -> [B, T, p*p]
    const err = tf.mean(tf.abs(tf.sub(pred, target)), 2); // [B, T]
    return tf.div(tf.sum(tf.mul(err, mask)), tf.maximum(tf.sum(mask), 1)) as tf.Scalar;
  });
}

/** A random mask [B, T] with exactly round(ratio * T) ones per row. */
export function randomPatchMask(rng: Rng, batch: number, tokens: number, ratio: number): tf.Tensor2D {
  const k = Math.round(ratio * tokens);
  const data = new Float32Array(batch * tokens);
  for (let i = 0; i < batch; i++) {
    const perm = rng.permutation(tokens);
    for (let j = 0; j < k; j++) data[i * tokens + perm[j]] = 1;
  }
  return tf.tensor2d(data, [batch, tokens]);
}
