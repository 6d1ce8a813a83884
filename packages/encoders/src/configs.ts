// Model configs: transformers' config.json (snake_case, with the config classes' defaults) turned
// into validated, explicit architecture descriptions, and exact parameter counts computed from them.
import { ConfigError } from '@fae/core';

/** DINOv2 / DINOv2-with-registers (transformers Dinov2Config / Dinov2WithRegistersConfig). */
export interface Dinov2Config {
  modelType: 'dinov2' | 'dinov2_with_registers';
  hiddenSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  mlpRatio: number;
  hiddenAct: string;
  layerNormEps: number;
  /** Pre-training resolution: the position-embedding grid is imageSize / patchSize per side. */
  imageSize: number;
  patchSize: number;
  numChannels: number;
  qkvBias: boolean;
  useSwigluFfn: boolean;
  /** 0 for plain DINOv2. */
  numRegisterTokens: number;
  /** Whether the checkpoint has `embeddings.mask_token` (always for the registers model). */
  useMaskToken: boolean;
}

/** SigLIP / SigLIP2 fixed-resolution vision tower (transformers SiglipVisionConfig). */
export interface SiglipVisionConfig {
  modelType: 'siglip_vision_model';
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numChannels: number;
  imageSize: number;
  patchSize: number;
  hiddenAct: string;
  layerNormEps: number;
  /** The attention-pooling head (`vision_use_head`, default true). */
  useHead: boolean;
}

export type EncoderConfig = Dinov2Config | SiglipVisionConfig;

type Json = Record<string, unknown>;

function reader(json: Json, source: string) {
  const num = (key: string, dflt: number, opts: { int?: boolean; min?: number } = {}): number => {
    const v = json[key] ?? dflt;
    if (typeof v !== 'number' || !Number.isFinite(v) || (opts.int && !Number.isInteger(v)) || v < (opts.min ?? -Infinity)) {
      throw new ConfigError(source, `${key} must be a${opts.int ? 'n integer' : ' number'}${opts.min !== undefined ? ` >= ${opts.min}` : ''}, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  const size = (key: string, dflt: number): number => {
    const v = json[key] ?? dflt;
    if (Array.isArray(v) && v.length === 2 && v[0] === v[1]) return v[0] as number;
    if (Array.isArray(v)) throw new ConfigError(source, `${key} ${JSON.stringify(v)}: only square sizes are supported`);
    return num(key, dflt, { int: true, min: 1 });
  };
  const bool = (key: string, dflt: boolean): boolean => {
    const v = json[key] ?? dflt;
    if (typeof v !== 'boolean') throw new ConfigError(source, `${key} must be true or false, got ${JSON.stringify(v)}`);
    return v;
  };
  const str = (key: string, dflt: string): string => {
    const v = json[key] ?? dflt;
    if (typeof v !== 'string') throw new ConfigError(source, `${key} must be a string, got ${JSON.stringify(v)}`);
    return v;
  };
  return { num, size, bool, str };
}

const KNOWN_ACTS = ['gelu', 'gelu_pytorch_tanh', 'gelu_new', 'gelu_tanh', 'silu', 'swish', 'relu', 'tanh'];

function checkHeads(hidden: number, heads: number, act: string, source: string): void {
  if (hidden % heads !== 0) throw new ConfigError(source, `hidden_size ${hidden} is not divisible by num_attention_heads ${heads}`);
  if (!KNOWN_ACTS.includes(act)) throw new ConfigError(source, `hidden_act '${act}' is not supported (${KNOWN_ACTS.join(', ')})`);
}

/** Parses a DINOv2 config.json (model_type dinov2 or dinov2_with_registers) with transformers' defaults. */
export function parseDinov2Config(json: Json, source = 'config.json'): Dinov2Config {
  const modelType = json.model_type;
  if (modelType !== 'dinov2' && modelType !== 'dinov2_with_registers') {
    throw new ConfigError(source, `model_type must be 'dinov2' or 'dinov2_with_registers', got ${JSON.stringify(modelType)}`);
  }
  const r = reader(json, source);
  const registers = modelType === 'dinov2_with_registers';
  const cfg: Dinov2Config = {
    modelType,
    hiddenSize: r.num('hidden_size', 768, { int: true, min: 1 }),
    numHiddenLayers: r.num('num_hidden_layers', 12, { int: true, min: 1 }),
    numAttentionHeads: r.num('num_attention_heads', 12, { int: true, min: 1 }),
    mlpRatio: r.num('mlp_ratio', 4, { min: 0 }),
    hiddenAct: r.str('hidden_act', 'gelu'),
    layerNormEps: r.num('layer_norm_eps', 1e-6, { min: 0 }),
    imageSize: r.size('image_size', 224),
    patchSize: r.size('patch_size', registers ? 16 : 14),
    numChannels: r.num('num_channels', 3, { int: true, min: 1 }),
    qkvBias: r.bool('qkv_bias', true),
    useSwigluFfn: r.bool('use_swiglu_ffn', false),
    numRegisterTokens: registers ? r.num('num_register_tokens', 4, { int: true, min: 0 }) : 0,
    useMaskToken: registers ? true : r.bool('use_mask_token', true),
  };
  checkHeads(cfg.hiddenSize, cfg.numAttentionHeads, cfg.hiddenAct, source);
  return cfg;
}

/**
 * Parses a SigLIP vision config: a `siglip_vision_model` config.json, or the `vision_config` of a
 * full `siglip` model (SigLIP2 fixed-resolution checkpoints are `siglip` models). NaFlex SigLIP2
 * (`siglip2`) uses a different patch embedding and is rejected with a ConfigError.
 */
export function parseSiglipVisionConfig(json: Json, source = 'config.json'): SiglipVisionConfig {
  let vision = json;
  if (json.model_type === 'siglip') {
    if (typeof json.vision_config !== 'object' || json.vision_config === null) throw new ConfigError(source, "a 'siglip' config needs a vision_config object");
    vision = json.vision_config as Json;
  } else if (json.model_type === 'siglip2' || json.model_type === 'siglip2_vision_model') {
    throw new ConfigError(source, `model_type '${json.model_type}' is SigLIP2 NaFlex (variable resolution, linear patch embedding), which is not supported; use a fixed-resolution SigLIP2 checkpoint such as google/siglip2-base-patch16-256`);
  } else if (json.model_type !== 'siglip_vision_model') {
    throw new ConfigError(source, `model_type must be 'siglip_vision_model' or 'siglip', got ${JSON.stringify(json.model_type)}`);
  }
  const r = reader(vision, json === vision ? source : `${source} (vision_config)`);
  const cfg: SiglipVisionConfig = {
    modelType: 'siglip_vision_model',
    hiddenSize: r.num('hidden_size', 768, { int: true, min: 1 }),
    intermediateSize: r.num('intermediate_size', 3072, { int: true, min: 1 }),
    numHiddenLayers: r.num('num_hidden_layers', 12, { int: true, min: 1 }),
    numAttentionHeads: r.num('num_attention_heads', 12, { int: true, min: 1 }),
    numChannels: r.num('num_channels', 3, { int: true, min: 1 }),
    imageSize: r.size('image_size', 224),
    patchSize: r.size('patch_size', 16),
    hiddenAct: r.str('hidden_act', 'gelu_pytorch_tanh'),
    layerNormEps: r.num('layer_norm_eps', 1e-6, { min: 0 }),
    useHead: r.bool('vision_use_head', true),
  };
  checkHeads(cfg.hiddenSize, cfg.numAttentionHeads, cfg.hiddenAct, source);
  return cfg;
}

/** Parses any supported config.json by its model_type. */
export function parseEncoderConfig(json: Json, source = 'config.json'): EncoderConfig {
  const t = json.model_type;
  if (t === 'dinov2' || t === 'dinov2_with_registers') return parseDinov2Config(json, source);
  return parseSiglipVisionConfig(json, source);
}

/** Hidden width of the DINOv2 MLP, or of the SwiGLU FFN: (int(2/3 * hidden * ratio) + 7) // 8 * 8. */
export function dinov2FfnHidden(cfg: Pick<Dinov2Config, 'hiddenSize' | 'mlpRatio' | 'useSwigluFfn'>): number {
  const hidden = Math.trunc(cfg.hiddenSize * cfg.mlpRatio);
  return cfg.useSwigluFfn ? Math.floor((Math.trunc((hidden * 2) / 3) + 7) / 8) * 8 : hidden;
}

/** Number of position-embedding grid cells per side at the pre-training resolution. */
export function positionGrid(cfg: EncoderConfig): number {
  return Math.floor(cfg.imageSize / cfg.patchSize);
}

/** Exact parameter count of the architecture (every tensor of the checkpoint), without weights. */
export function parameterCountOf(cfg: EncoderConfig): number {
  const d = cfg.hiddenSize;
  const c = cfg.numChannels;
  const p = cfg.patchSize;
  const grid = positionGrid(cfg);
  const patch = d * c * p * p + d;
  const ln = 2 * d;
  const attn = 4 * (d * d + d);
  if (cfg.modelType === 'siglip_vision_model') {
    const mlp = 2 * cfg.intermediateSize * d + cfg.intermediateSize + d;
    const layer = 2 * ln + attn + mlp;
    const head = cfg.useHead ? d + 3 * d * d + 3 * d + d * d + d + ln + mlp : 0;
    return patch + grid * grid * d + cfg.numHiddenLayers * layer + ln + head;
  }
  const h = dinov2FfnHidden(cfg);
  const qkvBias = cfg.qkvBias ? 0 : -3 * d;
  const ffn = cfg.useSwigluFfn ? d * 2 * h + 2 * h + h * d + d : d * h + h + h * d + d;
  const layer = 2 * ln + attn + qkvBias + 2 * d + ffn;
  const embeddings = d + (cfg.useMaskToken ? d : 0) + cfg.numRegisterTokens * d + (grid * grid + 1) * d + patch;
  return embeddings + cfg.numHiddenLayers * layer + ln;
}
