// TarFlow configuration: upstream apple/ml-tarflow `Model(...)` arguments, plus STARFlow's options
// (apple/ml-starflow), all off by default so the defaults are exactly TARFlow.
import { ConfigError } from '@fae/core';

export interface TarFlowConfig {
  /** Channels of the latent / image (C of [B, H, W, C]). */
  inChannels: number;
  /** Height = width of the latent / image. */
  imgSize: number;
  /** Patch size p: tokens are p x p x C patches, T = (imgSize / p)^2 tokens of D = C p^2. */
  patchSize: number;
  /** Transformer width. */
  channels: number;
  /** Number of flow blocks (MetaBlocks). */
  numBlocks: number;
  /** Transformer layers per block: one number for all, or a list (STARFlow's deep-shallow, e.g. [2,2,2,2,2,18]). */
  layersPerBlock: number | number[];
  /** Head width (upstream TARFlow fixes 64). */
  headDim?: number;
  /** MLP expansion (4). */
  expansion?: number;
  /** Affine transform (true, upstream default) or shift only. */
  nvp?: boolean;
  /** Number of classes (0: unconditional). */
  numClasses?: number;
  /** STARFlow: 2-D rotary positions in attention instead of learned `pos_embed`. */
  rope?: boolean;
  /** STARFlow: only the last (deep) block is class-conditional and guided; the shallow blocks are unconditional. */
  condTopOnly?: boolean;
  /** Seed of the random initial weights (reproducible models for tests). */
  seed?: number;
}

export interface ResolvedTarFlowConfig extends Required<Omit<TarFlowConfig, 'layersPerBlock' | 'seed'>> {
  layersPerBlock: number[];
  seed?: number;
}

export function resolveConfig(config: TarFlowConfig, source = 'TarFlowConfig'): ResolvedTarFlowConfig {
  const c = config;
  for (const k of ['inChannels', 'imgSize', 'patchSize', 'channels', 'numBlocks'] as const) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) throw new ConfigError(source, `${k} must be a positive integer, got ${c[k]}`);
  }
  if (c.imgSize % c.patchSize !== 0) throw new ConfigError(source, `imgSize ${c.imgSize} is not a multiple of patchSize ${c.patchSize}`);
  const headDim = c.headDim ?? 64;
  if (c.channels % headDim !== 0) throw new ConfigError(source, `channels ${c.channels} is not a multiple of headDim ${headDim}`);
  let layers = typeof c.layersPerBlock === 'number' ? [c.layersPerBlock] : c.layersPerBlock.slice();
  if (layers.length === 1) layers = new Array(c.numBlocks).fill(layers[0]);
  if (layers.length !== c.numBlocks) throw new ConfigError(source, `layersPerBlock has ${layers.length} entries for ${c.numBlocks} blocks`);
  if (layers.some((n) => !Number.isInteger(n) || n <= 0)) throw new ConfigError(source, `layersPerBlock entries must be positive integers, got [${layers}]`);
  const numClasses = c.numClasses ?? 0;
  if (c.condTopOnly && !numClasses) throw new ConfigError(source, 'condTopOnly needs numClasses > 0');
  if (c.rope && (headDim / 2) % 2 !== 0) throw new ConfigError(source, `rope needs headDim divisible by 4 (2-D rotary pairs), got ${headDim}`);
  return {
    inChannels: c.inChannels, imgSize: c.imgSize, patchSize: c.patchSize, channels: c.channels, numBlocks: c.numBlocks,
    layersPerBlock: layers, headDim, expansion: c.expansion ?? 4, nvp: c.nvp ?? true, numClasses,
    rope: c.rope ?? false, condTopOnly: c.condTopOnly ?? false, seed: c.seed,
  };
}

/**
 * Our config from upstream's constructor arguments as a config.json writes them
 * ({ in_channels, img_size, patch_size, channels, num_blocks, layers_per_block, nvp?, num_classes?,
 * head_dim?, rope?, cond_top_only? }, optionally with "class").
 */
export function configFromUpstream(json: Record<string, unknown>, source = 'config.json'): TarFlowConfig {
  const num = (k: string, required = true): number | undefined => {
    const v = json[k];
    if (v === undefined || v === null) {
      if (required) throw new ConfigError(source, `missing '${k}'`);
      return undefined;
    }
    if (typeof v !== 'number' && typeof v !== 'boolean') throw new ConfigError(source, `'${k}' must be a number, got ${JSON.stringify(v)}`);
    return Number(v);
  };
  const lpb = json.layers_per_block;
  if (!(typeof lpb === 'number' || (Array.isArray(lpb) && lpb.every((n) => typeof n === 'number')))) {
    throw new ConfigError(source, `'layers_per_block' must be a number or a list of numbers, got ${JSON.stringify(lpb)}`);
  }
  return {
    inChannels: num('in_channels')!,
    imgSize: num('img_size')!,
    patchSize: num('patch_size')!,
    channels: num('channels')!,
    numBlocks: num('num_blocks')!,
    layersPerBlock: lpb as number | number[],
    headDim: num('head_dim', false),
    expansion: num('expansion', false),
    nvp: json.nvp === undefined ? undefined : Boolean(json.nvp),
    numClasses: num('num_classes', false),
    rope: json.rope === undefined ? undefined : Boolean(json.rope),
    condTopOnly: json.cond_top_only === undefined ? undefined : Boolean(json.cond_top_only),
  };
}

/** Parameters of a TarFlow with this config, counted from the shapes (no weights are made). */
export function countParameters(config: TarFlowConfig): number {
  const c = resolveConfig(config);
  const T = (c.imgSize / c.patchSize) ** 2;
  const D = c.inChannels * c.patchSize ** 2;
  const C = c.channels;
  const H = C * c.expansion;
  const layer = 2 * C + (3 * C * C + 3 * C) + (C * C + C) + 2 * C + (C * H + H) + (H * C + C);
  let n = 0;
  c.layersPerBlock.forEach((layers, i) => {
    const conditional = c.numClasses > 0 && (!c.condTopOnly || i === c.numBlocks - 1);
    const out = c.nvp ? 2 * D : D;
    n += D * C + C + (c.rope ? 0 : T * C) + (conditional ? c.numClasses * C : 0) + layers * layer + C * out + out;
  });
  return n;
}
