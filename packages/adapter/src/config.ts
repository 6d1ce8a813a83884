// Configuration of the FAE encoder (the "adapter"): features [B, h, w, D] -> Gaussian latent
// (mean, logvar) [B, h, w, 2c]. `depth` selects the paper's ablation: 0 = a linear projection,
// 1 = the single attention layer (the paper), N = an N-layer transformer.
import { ConfigError } from '@fae/core';

export type AdapterActivation = 'gelu' | 'gelu_tanh' | 'silu' | 'relu' | 'identity';
export type AdapterPositions = 'none' | 'sincos' | 'learned' | 'rope';

export interface SingleAttentionEncoderConfig {
  /** Width D of the frozen encoder's patch features (1536 for DINOv2-g/14). */
  inputDim: number;
  /** Latent channels c; the output projection has 2c channels (mean, log-variance). Paper: 32. */
  latentChannels: number;
  /** Attention layers: 0 = linear baseline, 1 = the paper's single attention layer, N = N-layer transformer. */
  depth: number;
  /** Attention heads (paper: 24). */
  heads: number;
  /** Per-head width (paper: 256, so the fused QKV is D -> 3 * 24 * 256 = 3 * 6144). */
  headDim: number;
  /** MLP width as a multiple of inputDim inside each layer; 0 = no MLP (the paper's encoder). */
  mlpRatio: number;
  /** LayerNorm before attention (and MLP) in each layer. The paper's Figure 7 shows none. */
  preNorm: boolean;
  /** Activation after the residual, before the output projection (not applied when depth = 0). */
  activation: AdapterActivation;
  /**
   * Position information added to the input tokens inside the adapter:
   * 'sincos' (default): a fixed 2-D sin-cos table, held as a frozen `pos_embed` parameter
   *   [1, gridSize^2, D] like DiT/LightningDiT's (so it is counted in the parameters, as PyTorch counts it);
   * 'learned': the same table, trained; 'rope': 2-D rotary on q and k; 'none'.
   */
  positions: AdapterPositions;
  /** Token grid of the stored position table (16 for 224px DINOv2/14 and 256px SigLIP/16). */
  gridSize: number;
  /** Bias on the fused QKV, the attention output and the final projection. */
  bias: boolean;
  /** log-variance is clamped to [min, max] as LDM's DiagonalGaussianDistribution does. */
  logvarClamp: [number, number];
}

export const ADAPTER_DEFAULTS: SingleAttentionEncoderConfig = {
  inputDim: 1536,
  latentChannels: 32,
  depth: 1,
  heads: 24,
  headDim: 256,
  mlpRatio: 0,
  preNorm: false,
  activation: 'gelu',
  positions: 'sincos',
  gridSize: 16,
  bias: true,
  logvarClamp: [-30, 20],
};

/** Fills defaults and validates; throws ConfigError naming the field. */
export function resolveAdapterConfig(partial: Partial<SingleAttentionEncoderConfig> = {}, source = 'SingleAttentionEncoder config'): SingleAttentionEncoderConfig {
  const c: SingleAttentionEncoderConfig = { ...ADAPTER_DEFAULTS, ...stripUndefined(partial) };
  const positiveInt = (k: keyof SingleAttentionEncoderConfig, v: number, min = 1) => {
    if (!Number.isInteger(v) || v < min) throw new ConfigError(source, `${k} must be an integer >= ${min}, got ${v}`);
  };
  positiveInt('inputDim', c.inputDim);
  positiveInt('latentChannels', c.latentChannels);
  positiveInt('depth', c.depth, 0);
  positiveInt('heads', c.heads);
  positiveInt('headDim', c.headDim);
  positiveInt('gridSize', c.gridSize);
  if (!(c.mlpRatio >= 0)) throw new ConfigError(source, `mlpRatio must be >= 0, got ${c.mlpRatio}`);
  if (!['gelu', 'gelu_tanh', 'silu', 'relu', 'identity'].includes(c.activation)) {
    throw new ConfigError(source, `activation must be one of gelu, gelu_tanh, silu, relu, identity; got '${c.activation}'`);
  }
  if (!['none', 'sincos', 'learned', 'rope'].includes(c.positions)) throw new ConfigError(source, `positions must be 'none', 'sincos', 'learned' or 'rope', got '${c.positions}'`);
  if ((c.positions === 'sincos' || c.positions === 'learned') && c.inputDim % 4 !== 0) throw new ConfigError(source, `a 2-D sin-cos table needs inputDim divisible by 4, got ${c.inputDim}`);
  if (c.positions === 'rope' && c.headDim % 4 !== 0) throw new ConfigError(source, `2-D RoPE needs headDim divisible by 4, got ${c.headDim}`);
  if (!Array.isArray(c.logvarClamp) || c.logvarClamp.length !== 2 || !(c.logvarClamp[0] < c.logvarClamp[1])) {
    throw new ConfigError(source, `logvarClamp must be [min, max] with min < max, got ${JSON.stringify(c.logvarClamp)}`);
  }
  return c;
}

/** Attention width: heads x headDim (6144 for the paper). */
export function adapterHiddenDim(c: SingleAttentionEncoderConfig): number {
  return c.heads * c.headDim;
}

/** MLP hidden width of a transformer-encoder layer (0 when mlpRatio = 0). */
export function adapterMlpDim(c: SingleAttentionEncoderConfig): number {
  return Math.round(c.inputDim * c.mlpRatio);
}

/**
 * Parameters of a SingleAttentionEncoder, counted analytically (no allocation), as PyTorch's
 * sum(p.numel() for p in parameters()) would count them. Buffers (latent statistics) are not
 * parameters. Cross-checked against Module.parameterCount() in the tests.
 */
export function adapterParameterCount(partial: Partial<SingleAttentionEncoderConfig>): number {
  const c = resolveAdapterConfig(partial);
  const d = c.inputDim;
  const hidden = adapterHiddenDim(c);
  const b = c.bias ? 1 : 0;
  const lin = (i: number, o: number, bias = b) => i * o + bias * o;
  let layer = lin(d, 3 * hidden) + lin(hidden, d); // attn.qkv, attn.proj
  if (c.preNorm) layer += 2 * d; // norm1
  if (c.mlpRatio > 0) {
    const m = adapterMlpDim(c);
    layer += lin(d, m, 1) + lin(m, d, 1); // mlp.fc1, mlp.fc2
    if (c.preNorm) layer += 2 * d; // norm2
  }
  const positions = (c.positions === 'sincos' || c.positions === 'learned') && c.depth > 0 ? c.gridSize * c.gridSize * d : 0;
  return positions + c.depth * layer + lin(d, 2 * c.latentChannels);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
