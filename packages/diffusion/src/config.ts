// LightningDiT configuration: the constructor arguments of hustvl/LightningDiT `models/lightningdit.py`
// (`LightningDiT(input_size, patch_size, in_channels, ...)`), read from / written to config.json in
// upstream's snake_case, plus the analytic parameter count.
import { ConfigError } from '@fae/core';

/** LightningDiT's SwiGLU hidden width: int(2/3 * int(dim * mlpRatio)) (models/lightningdit.py). */
export function lightningDiTSwiGLUHidden(dim: number, mlpRatio = 4): number {
  return Math.trunc((2 / 3) * Math.trunc(dim * mlpRatio));
}

/**
 * Which way time runs for the model's velocity.
 * - 'data-at-1' (LightningDiT, SiT): x_t = t x + (1 - t) eps, velocity target x - eps; t = 0 is noise.
 * - 'noise-at-1' (REPA, SD3, the FAE paper's alpha_t = 1 - t): x_t = (1 - t) x + t eps, target eps - x.
 */
export type TimeConvention = 'data-at-1' | 'noise-at-1';

export interface LightningDiTConfig {
  /** Latent side (square latents [inputSize, inputSize, inChannels]). */
  inputSize: number;
  patchSize: number;
  inChannels: number;
  hiddenSize: number;
  depth: number;
  numHeads: number;
  mlpRatio: number;
  /** Label dropout in training; > 0 also adds the null-class row used for guidance. */
  classDropoutProb: number;
  numClasses: number;
  /** Output 2x channels (the second half is unused by flow matching and dropped by forward()). */
  learnSigma: boolean;
  useQknorm: boolean;
  useSwiglu: boolean;
  useRope: boolean;
  useRmsnorm: boolean;
  /** adaLN without shift (4 modulation vectors instead of 6). */
  woShift: boolean;
  /** Not an upstream argument: how the model's t is read (default 'data-at-1', as upstream). */
  timeConvention: TimeConvention;
}

/** Upstream defaults of `LightningDiT.__init__`. */
export const LIGHTNINGDIT_DEFAULTS: LightningDiTConfig = {
  inputSize: 32, patchSize: 2, inChannels: 32, hiddenSize: 1152, depth: 28, numHeads: 16, mlpRatio: 4.0,
  classDropoutProb: 0.1, numClasses: 1000, learnSigma: false, useQknorm: false, useSwiglu: false, useRope: false,
  useRmsnorm: false, woShift: false, timeConvention: 'data-at-1',
};

const SNAKE: Record<keyof LightningDiTConfig, string> = {
  inputSize: 'input_size', patchSize: 'patch_size', inChannels: 'in_channels', hiddenSize: 'hidden_size', depth: 'depth',
  numHeads: 'num_heads', mlpRatio: 'mlp_ratio', classDropoutProb: 'class_dropout_prob', numClasses: 'num_classes',
  learnSigma: 'learn_sigma', useQknorm: 'use_qknorm', useSwiglu: 'use_swiglu', useRope: 'use_rope', useRmsnorm: 'use_rmsnorm',
  woShift: 'wo_shift', timeConvention: 'time_convention',
};
const IGNORED = new Set(['class', 'use_checkpoint', '_class_name', 'model_type']);

/** A full config from a partial one (camelCase), validated. */
export function lightningDiTConfig(partial: Partial<LightningDiTConfig> = {}, source = 'LightningDiT config'): LightningDiTConfig {
  const c = { ...LIGHTNINGDIT_DEFAULTS, ...partial };
  const posInt = (k: keyof LightningDiTConfig) => {
    const v = c[k] as number;
    if (!Number.isInteger(v) || v < 1) throw new ConfigError(source, `${SNAKE[k]} must be a positive integer, got ${v}`);
  };
  (['inputSize', 'patchSize', 'inChannels', 'hiddenSize', 'depth', 'numHeads', 'numClasses'] as const).forEach(posInt);
  if (c.inputSize % c.patchSize) throw new ConfigError(source, `input_size ${c.inputSize} is not a multiple of patch_size ${c.patchSize}`);
  if (c.hiddenSize % c.numHeads) throw new ConfigError(source, `hidden_size ${c.hiddenSize} is not divisible by num_heads ${c.numHeads}`);
  if (c.hiddenSize % 4) throw new ConfigError(source, `hidden_size ${c.hiddenSize} must be divisible by 4 (2-D sin-cos positions)`);
  if (c.useRope && (c.hiddenSize / c.numHeads) % 4) throw new ConfigError(source, `RoPE needs a head dim divisible by 4, got ${c.hiddenSize / c.numHeads}`);
  if (!(c.mlpRatio > 0)) throw new ConfigError(source, `mlp_ratio must be positive, got ${c.mlpRatio}`);
  if (!(c.classDropoutProb >= 0 && c.classDropoutProb < 1)) throw new ConfigError(source, `class_dropout_prob must be in [0, 1), got ${c.classDropoutProb}`);
  if (c.timeConvention !== 'data-at-1' && c.timeConvention !== 'noise-at-1') throw new ConfigError(source, `time_convention must be 'data-at-1' or 'noise-at-1', got '${c.timeConvention}'`);
  return c;
}

/** Reads upstream's config.json (snake_case constructor arguments, optional "class"). Unknown keys are errors. */
export function lightningDiTConfigFromJson(json: Record<string, unknown>, source = 'config.json'): LightningDiTConfig {
  if (json.class !== undefined && json.class !== 'LightningDiT') throw new ConfigError(source, `"class" is '${json.class}', expected 'LightningDiT'`);
  const byJson = new Map(Object.entries(SNAKE).map(([camel, snake]) => [snake, camel as keyof LightningDiTConfig]));
  const partial: Record<string, unknown> = {};
  const unknown: string[] = [];
  for (const [k, v] of Object.entries(json)) {
    if (IGNORED.has(k)) continue;
    const camel = byJson.get(k);
    if (camel) partial[camel] = v;
    else unknown.push(k);
  }
  if (unknown.length) throw new ConfigError(source, `unknown LightningDiT option(s): ${unknown.join(', ')} (known: ${[...byJson.keys()].join(', ')})`);
  return lightningDiTConfig(partial as Partial<LightningDiTConfig>, source);
}

/** config.json content in upstream's format (snake_case + "class"). */
export function lightningDiTConfigToJson(c: LightningDiTConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { class: 'LightningDiT' };
  for (const [camel, snake] of Object.entries(SNAKE)) out[snake] = c[camel as keyof LightningDiTConfig];
  return out;
}

/** Output channels of the final layer per pixel (2x with learn_sigma). */
export function outChannelsOf(c: LightningDiTConfig): number {
  return c.learnSigma ? 2 * c.inChannels : c.inChannels;
}

/**
 * Parameters of the model as torch counts them (`sum(p.numel() for p in model.parameters())`), without
 * building it. Includes the frozen `pos_embed` (an nn.Parameter upstream); excludes the RoPE buffers.
 */
export function parameterCountOf(partial: Partial<LightningDiTConfig>): number {
  const c = lightningDiTConfig(partial);
  const D = c.hiddenSize, p = c.patchSize, C = c.inChannels;
  const T = (c.inputSize / p) ** 2;
  const headDim = D / c.numHeads;
  const linear = (i: number, o: number) => i * o + o;
  let n = 0;
  n += D * C * p * p + D; // x_embedder.proj
  n += T * D; // pos_embed
  n += linear(256, D) + linear(D, D); // t_embedder.mlp.0 / .2
  n += (c.numClasses + (c.classDropoutProb > 0 ? 1 : 0)) * D; // y_embedder
  const mlpHidden = Math.trunc(D * c.mlpRatio);
  let block = 0;
  if (c.useRmsnorm) block += 2 * D; // norm1, norm2 weights (LayerNorms have no affine)
  block += linear(D, 3 * D) + linear(D, D); // attn.qkv, attn.proj
  if (c.useQknorm) block += 2 * headDim * (c.useRmsnorm ? 1 : 2); // q_norm, k_norm
  if (c.useSwiglu) {
    const h = lightningDiTSwiGLUHidden(D, c.mlpRatio);
    block += linear(D, 2 * h) + linear(h, D);
  } else block += linear(D, mlpHidden) + linear(mlpHidden, D);
  block += linear(D, (c.woShift ? 4 : 6) * D); // adaLN_modulation.1
  n += c.depth * block;
  n += (c.useRmsnorm ? D : 0) + linear(D, p * p * outChannelsOf(c)) + linear(D, 2 * D); // final_layer
  return n;
}
