// DINOv2 (and DINOv2 with registers), as transformers' Dinov2Model / Dinov2WithRegistersModel:
// state-dict keys `embeddings.*`, `encoder.layer.N.*`, `layernorm.*`, so Hugging Face checkpoints
// (facebook/dinov2-*, facebook/dinov2-with-registers-*) load strictly.
//   pixel values [B, H, W, 3] -> embeddings [B, 1+R+h*w, D] -> N x Dinov2Layer -> layernorm
//   pooler_output = normalised [CLS]
import * as tf from '@tensorflow/tfjs-core';
import { LayerNorm, Module, ModuleList } from '@fae/core';
import type { Dinov2Config } from '../configs.js';
import { ViTBackbone, type Embedded } from '../vit-backbone.js';
import { Dinov2Embeddings } from './dinov2-embeddings.js';
import { Dinov2Layer } from './dinov2-layer.js';

/** Dinov2Encoder: the `layer` list. */
export class Dinov2Encoder extends Module {
  readonly layer: ModuleList<Dinov2Layer>;
  constructor(cfg: Dinov2Config) {
    super();
    this.layer = this.addModule('layer', new ModuleList(Array.from({ length: cfg.numHiddenLayers }, () => new Dinov2Layer(cfg))));
  }
}

export class Dinov2Model extends ViTBackbone {
  readonly embeddings: Dinov2Embeddings;
  readonly encoder: Dinov2Encoder;
  readonly layernorm: LayerNorm;
  readonly numPrefixTokens: number;

  constructor(readonly config: Dinov2Config) {
    super();
    this.embeddings = this.addModule('embeddings', new Dinov2Embeddings(config));
    this.encoder = this.addModule('encoder', new Dinov2Encoder(config));
    this.layernorm = this.addModule('layernorm', new LayerNorm(config.hiddenSize, { eps: config.layerNormEps }));
    this.numPrefixTokens = 1 + config.numRegisterTokens;
  }

  protected layerAt(i: number): Dinov2Layer {
    return this.encoder.layer.at(i);
  }

  protected get finalNorm(): LayerNorm {
    return this.layernorm;
  }

  embed(pixelValues: tf.Tensor): Embedded {
    return this.embeddings.forward(pixelValues);
  }

  /** The normalised [CLS] token. */
  protected pool(lastHiddenState: tf.Tensor): tf.Tensor2D {
    const [b, , d] = lastHiddenState.shape;
    return tf.reshape(tf.slice(lastHiddenState, [0, 0, 0], [b, 1, d]), [b, d]) as tf.Tensor2D; // [B, D]
  }
}
