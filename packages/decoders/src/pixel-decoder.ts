// PixelDecoder: features [B,h,w,D] -> image [B, h*p, w*p, 3] (paper §4.2: a ViT-L decoder; the
// structure of RAE's `GeneralDecoder`, a ViT-MAE decoder):
//
//   (training: x + noise) -> decoder_embed D -> W -> [CLS | tokens] + fixed sin-cos decoder_pos_embed
//   -> depth x pre-LN ViT layer (LN, MHA, +x; LN, GELU MLP, +x) -> decoder_norm
//   -> decoder_pred W -> p*p*3 per token -> drop CLS -> unpatchify -> * outputStd + outputMean
//
// State-dict keys are RAE's (its released decoders load): decoder_embed, decoder_pos_embed,
// trainable_cls_token, decoder_layers.<i>.{layernorm_before, attention.attention.{query,key,value},
// attention.output.dense, layernorm_after, intermediate.dense, output.dense}, decoder_norm, decoder_pred.
// Internally a layer holds core's MultiHeadAttention (attn.{query,key,value,dense}) and Mlp
// (mlp.{fc1,fc2}); loadStateDict / stateDict translate (see raeKey / internalKey).
import * as tf from '@tensorflow/tfjs-core';
import {
  LayerNorm, Linear, MemoryTensorStore, Mlp, Module, ModuleList, MultiHeadAttention, ShapeError, unpatchify,
  type FeatureShaped, type LoadReport, type LoadStateDictOptions, type StateDictInput, type TensorInfo, type TensorStore,
  sincosTable,
} from '@fae/core';
import { pixelPatchSize, resolvePixelDecoderConfig, type FeatureNoiseConfig, type PixelDecoderConfig } from './config.js';

/** Draws noise; core's Rng fits. */
export interface RandomSource {
  normal(shape: number[]): tf.Tensor;
  uniform(shape: number[], low?: number, high?: number): tf.Tensor;
}

export interface PixelDecodeOptions {
  /** Add the configured feature noise (default: this.training). */
  noise?: boolean;
  /** Source of the noise (default: tf.random*, unseeded). */
  rng?: RandomSource;
}

export class ViTMAELayer extends Module {
  readonly layernormBefore: LayerNorm;
  readonly attn: MultiHeadAttention;
  readonly layernormAfter: LayerNorm;
  readonly mlp: Mlp;
  constructor(c: PixelDecoderConfig) {
    super();
    this.layernormBefore = this.addModule('layernorm_before', new LayerNorm(c.width, { eps: c.layerNormEps }));
    this.attn = this.addModule('attn', new MultiHeadAttention(c.width, c.heads, {
      projections: 'separate', keys: { q: 'query', k: 'key', v: 'value', proj: 'dense' },
    }));
    this.layernormAfter = this.addModule('layernorm_after', new LayerNorm(c.width, { eps: c.layerNormEps }));
    this.mlp = this.addModule('mlp', new Mlp(c.width, c.mlpDim, c.width, { act: 'gelu' }));
  }

  /** x: [B, T, W] -> [B, T, W] */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const h = tf.add(x, this.attn.forward(this.layernormBefore.forward(x))); // [B, T, W]
      return tf.add(h, this.mlp.forward(this.layernormAfter.forward(h))); // [B, T, W]
    });
  }
}

export class PixelDecoder extends Module implements FeatureShaped {
  readonly config: PixelDecoderConfig;
  readonly patchSize: number;
  readonly decoderEmbed: Linear;
  readonly decoderPosEmbed: tf.Variable; // [1, (1 +) g*g, W]
  readonly clsToken: tf.Variable | null; // [1, 1, W]
  readonly layers: ModuleList<ViTMAELayer>;
  readonly decoderNorm: LayerNorm;
  readonly decoderPred: Linear;

  /** Tokens per side of the input features (the stored position table's grid). */
  get grid(): number {
    return this.config.gridSize;
  }

  /** Width D of the input features (= inputDim). */
  get featureDim(): number {
    return this.config.inputDim;
  }

  constructor(config: Partial<PixelDecoderConfig> = {}) {
    super();
    const c = (this.config = resolvePixelDecoderConfig(config));
    const g = c.gridSize;
    const extra = c.clsToken ? 1 : 0;
    this.patchSize = pixelPatchSize(c);
    this.decoderEmbed = this.addModule('decoder_embed', new Linear(c.inputDim, c.width));
    this.decoderPosEmbed = this.addParameter('decoder_pos_embed', [1, extra + g * g, c.width], sincosTable(c.width, g, g, extra), 'plain', { frozen: true });
    this.layers = this.addModule('decoder_layers', new ModuleList(Array.from({ length: c.depth }, () => new ViTMAELayer(c))));
    this.decoderNorm = this.addModule('decoder_norm', new LayerNorm(c.width, { eps: c.layerNormEps }));
    this.decoderPred = this.addModule('decoder_pred', new Linear(c.width, this.patchSize * this.patchSize * 3));
    this.clsToken = c.clsToken ? this.addParameter('trainable_cls_token', [1, 1, c.width], (s) => tf.zeros(s)) : null;
  }

  /** features [B, h, w, D] -> image [B, h*p, w*p, 3] (NHWC, in outputMean/outputStd's range, [0, 1] by default). */
  forward(features: tf.Tensor, opts: PixelDecodeOptions = {}): tf.Tensor {
    return tf.tidy(() => this.toImage(this.head(this.tokens(features, opts)), features.shape[1]!, features.shape[2]!));
  }

  /** The last hidden tokens after decoder_norm, CLS dropped: [B, h, w, D] -> [B, h*w, W]. */
  tokens(features: tf.Tensor, opts: PixelDecodeOptions = {}): tf.Tensor {
    const c = this.config;
    if (features.rank !== 4 || features.shape[3] !== c.inputDim) throw new ShapeError('features', `[B, h, w, ${c.inputDim}] (NHWC)`, `[${features.shape}]`);
    const [b, h, w, d] = features.shape;
    return tf.tidy(() => {
      const noisy = (opts.noise ?? this.training) ? addFeatureNoise(features, c.noise, opts.rng) : features; // [B, h, w, D]
      let x = this.decoderEmbed.forward(tf.reshape(noisy, [b, h * w, d])); // [B, T, W]
      const extra = this.clsToken ? 1 : 0;
      if (this.clsToken) x = tf.concat([tf.tile(this.clsToken, [b, 1, 1]), x], 1); // [B, 1+T, W]
      const pos = h === c.gridSize && w === c.gridSize ? this.decoderPosEmbed : sincosTable(c.width, h, w, extra);
      x = tf.add(x, pos); // [B, 1+T, W]
      for (const layer of this.layers) x = layer.forward(x); // [B, 1+T, W]
      x = this.decoderNorm.forward(x); // [B, 1+T, W]
      return extra ? tf.slice(x, [0, 1, 0], [b, h * w, c.width]) : x; // [B, T, W]
    });
  }

  /** decoder_pred: [B, T, W] -> patches [B, T, p*p*3] */
  head(tokens: tf.Tensor): tf.Tensor {
    return this.decoderPred.forward(tokens);
  }

  /** patches [B, h*w, p*p*3] -> image [B, h*p, w*p, 3], de-normalised with outputMean / outputStd. */
  toImage(patches: tf.Tensor, h: number, w: number): tf.Tensor {
    return tf.tidy(() => {
      const img = unpatchify(patches, this.patchSize, 3, [h, w]); // [B, H, W, 3]
      return tf.add(tf.mul(img, tf.tensor1d(this.config.outputStd)), tf.tensor1d(this.config.outputMean)); // [B, H, W, 3]
    });
  }

  /** Loads RAE-named (or our) weights; see the file comment. */
  override loadStateDict(input: StateDictInput, opts: LoadStateDictOptions = {}): Promise<LoadReport> {
    const store = isStore(input) ? input : new MemoryTensorStore(input as Record<string, tf.Tensor>);
    return super.loadStateDict(renamedStore(store), opts);
  }

  /** The state dict under RAE's key names. */
  override async stateDict(): Promise<Map<string, { shape: number[]; data: Float32Array | Int32Array }>> {
    const ours = await super.stateDict();
    return new Map([...ours].map(([k, v]) => [raeKey(k), v]));
  }
}

// ------------------------------------------------------------------------------------------------
// Feature noise (paper §4.2 stage Ia: x~ = x + eps, eps ~ N(0, sigma^2 I))
// ------------------------------------------------------------------------------------------------

/** x + noise per `cfg` (see FeatureNoiseConfig). x: [B, ...] -> same shape. */
export function addFeatureNoise(x: tf.Tensor, cfg: FeatureNoiseConfig, rng?: RandomSource): tf.Tensor {
  return tf.tidy(() => {
    if (cfg.sigma === 0) return tf.clone(x);
    const eps = rng ? rng.normal(x.shape) : tf.randomNormal(x.shape);
    const b = x.shape[0];
    const perSample = [b, ...x.shape.slice(1).map(() => 1)];
    let scale: tf.Tensor | number;
    if (cfg.mode === 'fixed') scale = cfg.sigma;
    else if (cfg.mode === 'uniform') scale = tf.reshape(rng ? rng.uniform([b], 0, cfg.sigma) : tf.randomUniform([b], 0, cfg.sigma), perSample); // [B, 1, ...]
    else scale = tf.mul(cfg.sigma, tf.sqrt(tf.mean(tf.square(x), x.shape.slice(1).map((_, i) => i + 1), true))); // [B, 1, ...]
    return tf.add(x, tf.mul(eps, scale));
  });
}

// ------------------------------------------------------------------------------------------------
// Key translation between our module tree and RAE's checkpoints
// ------------------------------------------------------------------------------------------------
const TO_RAE: Array<[RegExp, string]> = [
  [/(^|\.)(decoder_layers\.\d+)\.attn\.(query|key|value)\./, '$1$2.attention.attention.$3.'],
  [/(^|\.)(decoder_layers\.\d+)\.attn\.dense\./, '$1$2.attention.output.dense.'],
  [/(^|\.)(decoder_layers\.\d+)\.mlp\.fc1\./, '$1$2.intermediate.dense.'],
  [/(^|\.)(decoder_layers\.\d+)\.mlp\.fc2\./, '$1$2.output.dense.'],
];
const FROM_RAE: Array<[RegExp, string]> = [
  [/(^|\.)(decoder_layers\.\d+)\.attention\.attention\.(query|key|value)\./, '$1$2.attn.$3.'],
  [/(^|\.)(decoder_layers\.\d+)\.attention\.output\.dense\./, '$1$2.attn.dense.'],
  [/(^|\.)(decoder_layers\.\d+)\.intermediate\.dense\./, '$1$2.mlp.fc1.'],
  [/(^|\.)(decoder_layers\.\d+)\.output\.dense\./, '$1$2.mlp.fc2.'],
];

/** Our key -> RAE's key. */
export function raeKey(k: string): string {
  for (const [re, to] of TO_RAE) if (re.test(k)) return k.replace(re, to);
  return k;
}

/** RAE's key -> ours. */
export function internalKey(k: string): string {
  for (const [re, to] of FROM_RAE) if (re.test(k)) return k.replace(re, to);
  return k;
}

/** A view of an RAE-named store under our key names (keys that are already ours pass through). */
function renamedStore(store: TensorStore): TensorStore {
  const toStore = new Map<string, string>();
  for (const k of store.keys()) toStore.set(internalKey(k), k);
  return {
    source: store.source,
    keys: () => [...toStore.keys()],
    info: (k: string): TensorInfo | undefined => store.info(toStore.get(k) ?? k),
    read: (k: string) => store.read(toStore.get(k) ?? k),
    close: () => store.close?.(),
  };
}

function isStore(x: unknown): x is TensorStore {
  return typeof x === 'object' && x !== null && typeof (x as TensorStore).keys === 'function' && typeof (x as TensorStore).read === 'function';
}
