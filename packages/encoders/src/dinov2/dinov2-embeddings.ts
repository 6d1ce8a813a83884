// DINOv2 embeddings (transformers Dinov2Embeddings / Dinov2WithRegistersEmbeddings):
// patch embedding, [CLS] prepended, position embeddings added (interpolated to the input's grid
// as transformers does), register tokens inserted after [CLS] (registers model only).
import * as tf from '@tensorflow/tfjs-core';
import { Module, init, interpolatePosEmbed, posEmbedInterpMatrix } from '@fae/core';
import { PatchEmbedding } from '../patch-embedding.js';
import { positionGrid, type Dinov2Config } from '../configs.js';
import type { Embedded } from '../vit-backbone.js';

/** Dinov2PatchEmbeddings: holds the conv `projection`. */
export class Dinov2PatchEmbeddings extends Module {
  readonly projection: PatchEmbedding;
  constructor(cfg: Dinov2Config) {
    super();
    this.projection = this.addModule('projection', new PatchEmbedding(cfg.numChannels, cfg.hiddenSize, cfg.patchSize));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return this.projection.forward(x);
  }
}

export class Dinov2Embeddings extends Module {
  readonly clsToken: tf.Variable; // [1, 1, D]
  readonly maskToken: tf.Variable | null; // [1, D] (used only for masked pre-training; loaded for strictness)
  readonly registerTokens: tf.Variable | null; // [1, R, D]
  readonly patchEmbeddings: Dinov2PatchEmbeddings;
  readonly positionEmbeddings: tf.Variable; // [1, 1 + g*g, D]
  /** Interpolation matrices by target grid (plain arrays: no tensors outlive a call). */
  private readonly interpCache = new Map<string, Float32Array>();
  readonly grid: number;

  constructor(readonly cfg: Dinov2Config) {
    super();
    const d = cfg.hiddenSize;
    this.grid = positionGrid(cfg);
    this.clsToken = this.addParameter('cls_token', [1, 1, d], init.truncatedNormal(0.02));
    this.maskToken = cfg.useMaskToken ? this.addParameter('mask_token', [1, d], init.zeros()) : null;
    this.registerTokens = cfg.numRegisterTokens > 0 ? this.addParameter('register_tokens', [1, cfg.numRegisterTokens, d], init.zeros()) : null;
    this.patchEmbeddings = this.addModule('patch_embeddings', new Dinov2PatchEmbeddings(cfg));
    this.positionEmbeddings = this.addParameter('position_embeddings', [1, this.grid * this.grid + 1, d], init.truncatedNormal(0.02));
  }

  /**
   * Position embeddings [1, 1 + h*w, D] for an h x w token grid from an H x W image. As transformers:
   * the table is used as is when the patch count matches and H == W; otherwise the patch part is
   * resized to (h, w) with bicubic interpolation (antialias for the registers model).
   */
  positionsFor(h: number, w: number, height: number, width: number): tf.Tensor {
    const g = this.grid;
    if (h * w === g * g && height === width) return this.positionEmbeddings;
    return tf.tidy(() => {
      const d = this.cfg.hiddenSize;
      const cls = tf.slice(this.positionEmbeddings, [0, 0, 0], [1, 1, d]); // [1, 1, D]
      const table = tf.reshape(tf.slice(this.positionEmbeddings, [0, 1, 0], [1, g * g, d]), [g * g, d]); // [g*g, D]
      const patch = interpolatePosEmbed(table, h, w, { gridH: g, gridW: g, matrix: this.interpMatrix(h, w) }); // [h*w, D]
      return tf.concat([cls, tf.expandDims(patch, 0)], 1); // [1, 1 + h*w, D]
    });
  }

  private interpMatrix(h: number, w: number): tf.Tensor2D {
    const key = `${h}x${w}`;
    const g = this.grid;
    let m = this.interpCache.get(key);
    if (!m) {
      m = Float32Array.from(posEmbedInterpMatrix(g, g, h, w, { antialias: this.cfg.modelType === 'dinov2_with_registers' }));
      this.interpCache.set(key, m);
    }
    return tf.tensor2d(m, [h * w, g * g]);
  }

  /** pixel values [B, H, W, C] -> tokens [B, 1 + R + h*w, D] */
  forward(pixelValues: tf.Tensor): Embedded {
    return tf.tidy(() => {
      const [b, height, width] = pixelValues.shape;
      const [h, w] = this.patchEmbeddings.projection.grid(height, width);
      const patches = this.patchEmbeddings.forward(pixelValues); // [B, h*w, D]
      const d = this.cfg.hiddenSize;
      const cls = tf.broadcastTo(this.clsToken, [b, 1, d]); // [B, 1, D]
      let x = tf.add(tf.concat([cls, patches], 1), this.positionsFor(h, w, height, width)); // [B, 1 + h*w, D]
      if (this.registerTokens) {
        const r = this.cfg.numRegisterTokens;
        const regs = tf.broadcastTo(this.registerTokens, [b, r, d]); // [B, R, D]
        x = tf.concat([tf.slice(x, [0, 0, 0], [b, 1, d]), regs, tf.slice(x, [0, 1, 0], [b, h * w, d])], 1); // [B, 1 + R + h*w, D]
      }
      return { tokens: x as tf.Tensor3D, gridH: h, gridW: w } as unknown as tf.TensorContainerObject;
    }) as unknown as Embedded;
  }

  override dispose(): void {
    this.interpCache.clear();
    super.dispose();
  }
}
