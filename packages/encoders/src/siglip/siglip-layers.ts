// SigLIP vision building blocks with transformers' module names: embeddings (patch_embedding +
// position_embedding), SiglipAttention (q/k/v/out_proj), SiglipMLP (fc1/fc2), SiglipEncoderLayer
// (layer_norm1, self_attn, layer_norm2, mlp), SiglipEncoder (layers).
import * as tf from '@tensorflow/tfjs-core';
import { LayerNorm, Linear, Module, ModuleList, ShapeError, activation, init, interpolatePosEmbed } from '@fae/core';
import { multiHeadAttention } from '../attention.js';
import { PatchEmbedding } from '../patch-embedding.js';
import { positionGrid, type SiglipVisionConfig } from '../configs.js';
import type { Embedded } from '../vit-backbone.js';

/** nn.Embedding holding the learned position table `weight` [N, D]. */
export class PositionTable extends Module {
  readonly weight: tf.Variable; // [N, D]
  constructor(n: number, d: number) {
    super();
    this.weight = this.addParameter('weight', [n, d], init.normal(1));
  }
}

export class SiglipVisionEmbeddings extends Module {
  readonly patchEmbedding: PatchEmbedding;
  readonly positionEmbedding: PositionTable;
  readonly grid: number;
  /** Interpolate the position table to other grids (transformers' `interpolate_pos_encoding=True`). */
  interpolatePosEncoding = false;

  constructor(readonly cfg: SiglipVisionConfig) {
    super();
    this.grid = positionGrid(cfg);
    this.patchEmbedding = this.addModule('patch_embedding', new PatchEmbedding(cfg.numChannels, cfg.hiddenSize, cfg.patchSize));
    this.positionEmbedding = this.addModule('position_embedding', new PositionTable(this.grid * this.grid, cfg.hiddenSize));
  }

  /** pixel values [B, H, W, C] -> tokens [B, h*w, D] */
  forward(pixelValues: tf.Tensor): Embedded {
    return tf.tidy(() => {
      const [, height, width] = pixelValues.shape;
      const [h, w] = this.patchEmbedding.grid(height, width);
      const g = this.grid;
      const x = this.patchEmbedding.forward(pixelValues); // [B, h*w, D]
      let pos: tf.Tensor; // [h*w, D]
      if (this.interpolatePosEncoding && !(h * w === g * g && height === width)) {
        pos = interpolatePosEmbed(this.positionEmbedding.weight, h, w, { gridH: g, gridW: g });
      } else if (h * w === g * g) {
        pos = this.positionEmbedding.weight;
      } else {
        throw new ShapeError('pixel values', `${g * this.cfg.patchSize}x${g * this.cfg.patchSize} (the model's ${g}x${g} grid), or set interpolatePosEncoding`, `${height}x${width}`);
      }
      return { tokens: tf.add(x, pos) as tf.Tensor3D, gridH: h, gridW: w } as unknown as tf.TensorContainerObject;
    }) as unknown as Embedded;
  }
}

/** SiglipAttention: q_proj, k_proj, v_proj, out_proj. */
export class SiglipAttention extends Module {
  readonly qProj: Linear;
  readonly kProj: Linear;
  readonly vProj: Linear;
  readonly outProj: Linear;
  constructor(readonly hiddenSize: number, readonly numHeads: number) {
    super();
    this.kProj = this.addModule('k_proj', new Linear(hiddenSize, hiddenSize));
    this.vProj = this.addModule('v_proj', new Linear(hiddenSize, hiddenSize));
    this.qProj = this.addModule('q_proj', new Linear(hiddenSize, hiddenSize));
    this.outProj = this.addModule('out_proj', new Linear(hiddenSize, hiddenSize));
  }

  /** x: [B, T, D] -> [B, T, D] */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.outProj.forward(multiHeadAttention(this.qProj.forward(x), this.kProj.forward(x), this.vProj.forward(x), this.numHeads)));
  }
}

/** SiglipMLP: fc1 -> hidden_act -> fc2. */
export class SiglipMLP extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  private readonly act: (x: tf.Tensor) => tf.Tensor;
  constructor(hiddenSize: number, intermediateSize: number, act: string) {
    super();
    this.fc1 = this.addModule('fc1', new Linear(hiddenSize, intermediateSize));
    this.fc2 = this.addModule('fc2', new Linear(intermediateSize, hiddenSize));
    this.act = activation(act);
  }

  /** x: [..., D] -> [..., D] */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.fc2.forward(this.act(this.fc1.forward(x))));
  }
}

/** x = x + self_attn(layer_norm1(x)); x = x + mlp(layer_norm2(x)) */
export class SiglipEncoderLayer extends Module {
  readonly layerNorm1: LayerNorm;
  readonly selfAttn: SiglipAttention;
  readonly layerNorm2: LayerNorm;
  readonly mlp: SiglipMLP;
  constructor(cfg: SiglipVisionConfig) {
    super();
    this.layerNorm1 = this.addModule('layer_norm1', new LayerNorm(cfg.hiddenSize, { eps: cfg.layerNormEps }));
    this.selfAttn = this.addModule('self_attn', new SiglipAttention(cfg.hiddenSize, cfg.numAttentionHeads));
    this.layerNorm2 = this.addModule('layer_norm2', new LayerNorm(cfg.hiddenSize, { eps: cfg.layerNormEps }));
    this.mlp = this.addModule('mlp', new SiglipMLP(cfg.hiddenSize, cfg.intermediateSize, cfg.hiddenAct));
  }

  /** x: [B, T, D] -> [B, T, D] */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const h = tf.add(x, this.selfAttn.forward(this.layerNorm1.forward(x))); // [B, T, D]
      return tf.add(h, this.mlp.forward(this.layerNorm2.forward(h))); // [B, T, D]
    });
  }
}

/** SiglipEncoder: the `layers` list. */
export class SiglipEncoder extends Module {
  readonly layers: ModuleList<SiglipEncoderLayer>;
  constructor(cfg: SiglipVisionConfig) {
    super();
    this.layers = this.addModule('layers', new ModuleList(Array.from({ length: cfg.numHiddenLayers }, () => new SiglipEncoderLayer(cfg))));
  }
}
