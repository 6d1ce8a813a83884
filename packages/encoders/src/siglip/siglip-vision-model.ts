// SigLIP / SigLIP2 (fixed resolution) vision tower, as transformers' SiglipVisionTransformer:
// keys `embeddings.*`, `encoder.layers.N.*`, `post_layernorm.*`, `head.*` (found under
// `vision_model.` in SiglipVisionModel / SiglipModel checkpoints: load with that prefix).
//   pixel values [B, H, W, 3] -> patch tokens + positions [B, h*w, D] -> N x SiglipEncoderLayer
//   -> post_layernorm -> pooler_output = attention-pooling head
import * as tf from '@tensorflow/tfjs-core';
import { LayerNorm } from '@fae/core';
import type { SiglipVisionConfig } from '../configs.js';
import { ViTBackbone, type Embedded } from '../vit-backbone.js';
import { SiglipEncoder, SiglipEncoderLayer, SiglipVisionEmbeddings } from './siglip-layers.js';
import { SiglipMultiheadAttentionPoolingHead } from './siglip-pooling-head.js';

export class SiglipVisionTransformer extends ViTBackbone {
  readonly embeddings: SiglipVisionEmbeddings;
  readonly encoder: SiglipEncoder;
  readonly postLayernorm: LayerNorm;
  readonly head: SiglipMultiheadAttentionPoolingHead | null;
  readonly numPrefixTokens = 0;

  constructor(readonly config: SiglipVisionConfig) {
    super();
    this.embeddings = this.addModule('embeddings', new SiglipVisionEmbeddings(config));
    this.encoder = this.addModule('encoder', new SiglipEncoder(config));
    this.postLayernorm = this.addModule('post_layernorm', new LayerNorm(config.hiddenSize, { eps: config.layerNormEps }));
    this.head = config.useHead ? this.addModule('head', new SiglipMultiheadAttentionPoolingHead(config)) : null;
  }

  /** Interpolate position embeddings for inputs whose grid differs from the model's (default false, as transformers). */
  get interpolatePosEncoding(): boolean {
    return this.embeddings.interpolatePosEncoding;
  }
  set interpolatePosEncoding(on: boolean) {
    this.embeddings.interpolatePosEncoding = on;
  }

  protected layerAt(i: number): SiglipEncoderLayer {
    return this.encoder.layers.at(i);
  }

  protected get finalNorm(): LayerNorm {
    return this.postLayernorm;
  }

  embed(pixelValues: tf.Tensor): Embedded {
    return this.embeddings.forward(pixelValues);
  }

  protected pool(lastHiddenState: tf.Tensor): tf.Tensor2D | null {
    return this.head ? (this.head.forward(lastHiddenState) as tf.Tensor2D) : null;
  }
}
