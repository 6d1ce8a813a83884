// Configurations of the two decoders and their analytic parameter counts (no allocation; PyTorch's
// sum(p.numel()) convention, so frozen position tables count).
import { ConfigError } from '@fae/core';

// ------------------------------------------------------------------------------------------------
// Feature decoder: z [B,h,w,c] -> features [B,h,w,D] (paper §4.2: 6 layers, RoPE, RMSNorm, SwiGLU)
// ------------------------------------------------------------------------------------------------
export interface FeatureDecoderConfig {
  /** Latent channels c (paper: 32). */
  latentChannels: number;
  /** Width D of the features it reconstructs (the frozen encoder's width; 1536 for DINOv2-g). */
  outputDim: number;
  /** Transformer width; default = outputDim ("same hidden dimension as the backbone"). */
  width: number;
  /** Transformer blocks (paper: 6). */
  depth: number;
  /** Attention heads (paper: 24, head dim 64). */
  heads: number;
  /** SwiGLU hidden = int(2/3 * int(width * mlpRatio)) as LightningDiT (4096 for 1536, ratio 4). */
  mlpRatio: number;
  /** 2-D RoPE (axial, interleaved pairs) on q and k in every block. */
  rope: boolean;
  /**
   * 'sincos': a fixed 2-D sin-cos `pos_embed` [1, gridSize^2, width] added after in_proj and held as
   * a frozen parameter, as LightningDiT holds it (so PyTorch's count includes it); 'none'.
   */
  positions: 'sincos' | 'none';
  /** Token grid of the stored table (16 for the paper). */
  gridSize: number;
  /** Linear width -> outputDim after the final norm; needed when width != outputDim. */
  outProj: boolean;
  /** RMSNorm epsilon (LightningDiT: 1e-6). */
  normEps: number;
  /** Bias on the fused qkv projection (LightningDiT: true). */
  qkvBias: boolean;
}

export const FEATURE_DECODER_DEFAULTS: FeatureDecoderConfig = {
  latentChannels: 32,
  outputDim: 1536,
  width: 1536,
  depth: 6,
  heads: 24,
  mlpRatio: 4,
  rope: true,
  positions: 'sincos',
  gridSize: 16,
  outProj: false,
  normEps: 1e-6,
  qkvBias: true,
};

export function resolveFeatureDecoderConfig(partial: Partial<FeatureDecoderConfig> = {}, source = 'FeatureDecoder config'): FeatureDecoderConfig {
  const given = stripUndefined(partial);
  const c: FeatureDecoderConfig = { ...FEATURE_DECODER_DEFAULTS, ...given };
  if (given.width === undefined) c.width = c.outputDim;
  for (const k of ['latentChannels', 'outputDim', 'width', 'heads', 'gridSize'] as const) positiveInt(source, k, c[k]);
  positiveInt(source, 'depth', c.depth, 0);
  if (c.width % c.heads !== 0) throw new ConfigError(source, `width ${c.width} is not divisible by ${c.heads} heads`);
  if (c.rope && (c.width / c.heads) % 4 !== 0) throw new ConfigError(source, `2-D RoPE needs a head dim divisible by 4, got ${c.width / c.heads}`);
  if (c.positions !== 'sincos' && c.positions !== 'none') throw new ConfigError(source, `positions must be 'sincos' or 'none', got '${c.positions}'`);
  if (c.positions === 'sincos' && c.width % 4 !== 0) throw new ConfigError(source, `a 2-D sin-cos table needs width divisible by 4, got ${c.width}`);
  if (!(c.mlpRatio > 0)) throw new ConfigError(source, `mlpRatio must be > 0, got ${c.mlpRatio}`);
  if (c.width !== c.outputDim && !c.outProj) throw new ConfigError(source, `width ${c.width} != outputDim ${c.outputDim} needs outProj: true`);
  return c;
}

/** LightningDiT's SwiGLU hidden width int(2/3 * int(width * ratio)). */
export function featureDecoderMlpHidden(c: Pick<FeatureDecoderConfig, 'width' | 'mlpRatio'>): number {
  return Math.trunc((2 / 3) * Math.trunc(c.width * c.mlpRatio));
}

export function featureDecoderParameterCount(partial: Partial<FeatureDecoderConfig>): number {
  const c = resolveFeatureDecoderConfig(partial);
  const w = c.width;
  const hid = featureDecoderMlpHidden(c);
  const lin = (i: number, o: number, bias = true) => i * o + (bias ? o : 0);
  const block = w + lin(w, 3 * w, c.qkvBias) + lin(w, w) + w + lin(w, 2 * hid) + lin(hid, w); // norm1, qkv, proj, norm2, w12, w3
  const positions = c.positions === 'sincos' ? c.gridSize * c.gridSize * w : 0;
  return lin(c.latentChannels, w) + positions + c.depth * block + w + (c.outProj ? lin(w, c.outputDim) : 0);
}

// ------------------------------------------------------------------------------------------------
// Pixel decoder: features [B,h,w,D] -> image [B,H,W,3] (RAE's ViT-MAE decoder, paper: ViT-L)
// ------------------------------------------------------------------------------------------------
export type FeatureNoiseMode = 'fixed' | 'rms' | 'uniform';

export interface FeatureNoiseConfig {
  /**
   * 'fixed': x + sigma * eps (the paper: sigma = 0.4 for DINOv2);
   * 'rms': x + sigma * rms(x) * eps, rms over each sample's features (the paper's "scale it according
   *   to the norm of the pre-trained embeddings" for other encoders);
   * 'uniform': x + s * eps with s ~ U(0, sigma) per sample (RAE's noise_tau).
   */
  mode: FeatureNoiseMode;
  sigma: number;
}

export interface PixelDecoderConfig {
  /** Width D of the input features. */
  inputDim: number;
  /** ViT width (ViT-L: 1024). */
  width: number;
  depth: number;
  heads: number;
  /** MLP hidden width (ViT-L: 4096). */
  mlpDim: number;
  /** Token grid of the stored position table (16). */
  gridSize: number;
  /** Output image side for a gridSize x gridSize input; the patch size is imageSize / gridSize. */
  imageSize: number;
  /** Prepend RAE's trainable CLS token. */
  clsToken: boolean;
  /** LayerNorm epsilon (RAE / ViT-MAE config: 1e-12). */
  layerNormEps: number;
  /**
   * The head predicts normalised pixels; the image is pred * outputStd + outputMean per channel
   * (RAE de-normalises with ImageNet's mean/std), so images come out in [0, 1].
   */
  outputMean: [number, number, number];
  outputStd: [number, number, number];
  /** Noise added to the input features in training mode (none when sigma = 0). */
  noise: FeatureNoiseConfig;
}

export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

export const PIXEL_DECODER_DEFAULTS: PixelDecoderConfig = {
  inputDim: 1536,
  width: 1024,
  depth: 24,
  heads: 16,
  mlpDim: 4096,
  gridSize: 16,
  imageSize: 256,
  clsToken: true,
  layerNormEps: 1e-12,
  outputMean: IMAGENET_MEAN,
  outputStd: IMAGENET_STD,
  noise: { mode: 'fixed', sigma: 0.4 },
};

export function resolvePixelDecoderConfig(partial: Partial<PixelDecoderConfig> = {}, source = 'PixelDecoder config'): PixelDecoderConfig {
  const c: PixelDecoderConfig = { ...PIXEL_DECODER_DEFAULTS, ...stripUndefined(partial) };
  c.noise = { ...PIXEL_DECODER_DEFAULTS.noise, ...stripUndefined(partial.noise ?? {}) };
  for (const k of ['inputDim', 'width', 'heads', 'mlpDim', 'gridSize', 'imageSize'] as const) positiveInt(source, k, c[k]);
  positiveInt(source, 'depth', c.depth, 0);
  if (c.width % c.heads !== 0) throw new ConfigError(source, `width ${c.width} is not divisible by ${c.heads} heads`);
  if (c.width % 4 !== 0) throw new ConfigError(source, `the 2-D sin-cos table needs width divisible by 4, got ${c.width}`);
  if (c.imageSize % c.gridSize !== 0) throw new ConfigError(source, `imageSize ${c.imageSize} is not a multiple of gridSize ${c.gridSize} (patch size = imageSize / gridSize)`);
  if (!['fixed', 'rms', 'uniform'].includes(c.noise.mode)) throw new ConfigError(source, `noise.mode must be 'fixed', 'rms' or 'uniform', got '${c.noise.mode}'`);
  if (!(c.noise.sigma >= 0)) throw new ConfigError(source, `noise.sigma must be >= 0, got ${c.noise.sigma}`);
  for (const k of ['outputMean', 'outputStd'] as const) {
    if (!Array.isArray(c[k]) || c[k].length !== 3) throw new ConfigError(source, `${k} must be 3 numbers (RGB), got ${JSON.stringify(c[k])}`);
  }
  return c;
}

/** Decoder patch size p = imageSize / gridSize (16 for 16x16 tokens -> 256x256). */
export function pixelPatchSize(c: Pick<PixelDecoderConfig, 'imageSize' | 'gridSize'>): number {
  return c.imageSize / c.gridSize;
}

export function pixelDecoderParameterCount(partial: Partial<PixelDecoderConfig>): number {
  const c = resolvePixelDecoderConfig(partial);
  const w = c.width;
  const p = pixelPatchSize(c);
  const lin = (i: number, o: number) => i * o + o;
  const layer = 2 * w + 4 * lin(w, w) + 2 * w + lin(w, c.mlpDim) + lin(c.mlpDim, w); // LN, q k v o, LN, fc1, fc2
  const tokens = c.gridSize * c.gridSize + (c.clsToken ? 1 : 0);
  return lin(c.inputDim, w) + tokens * w + (c.clsToken ? w : 0) + c.depth * layer + 2 * w + lin(w, p * p * 3);
}

// ------------------------------------------------------------------------------------------------

function positiveInt(source: string, k: string, v: number, min = 1): void {
  if (!Number.isInteger(v) || v < min) throw new ConfigError(source, `${k} must be an integer >= ${min}, got ${v}`);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
