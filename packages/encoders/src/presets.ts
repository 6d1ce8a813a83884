// Named presets: the published DINOv2 / SigLIP2 checkpoints with their hub ids, architecture
// (as their config.json states it), preprocessing (as their preprocessor_config.json) and exact
// parameter counts computed from the architecture (parameterCountOf: no weights needed).
import type { PreprocessorConfigJson } from '@fae/core';
import { parameterCountOf, parseEncoderConfig, type EncoderConfig } from './configs.js';

export interface EncoderPreset {
  name: string;
  hubId: string;
  /** config.json fields that define the architecture (enough to build it with random weights). */
  configJson: Record<string, unknown>;
  config: EncoderConfig;
  preprocessor: PreprocessorConfigJson;
  /** Side of the preprocessed image (crop or fixed size). */
  imageSize: number;
  patchSize: number;
  hiddenSize: number;
  numLayers: number;
  /** Patch tokens per side at imageSize. */
  grid: number;
  /** Every tensor of the checkpoint (the vision tower only, for SigLIP2). */
  parameters: number;
}

const IMAGENET = { image_mean: [0.485, 0.456, 0.406], image_std: [0.229, 0.224, 0.225] };

const DINOV2_PREPROCESSOR: PreprocessorConfigJson = {
  image_processor_type: 'BitImageProcessor', do_convert_rgb: true, do_resize: true, size: { shortest_edge: 256 }, resample: 3,
  do_center_crop: true, crop_size: { height: 224, width: 224 }, do_rescale: true, rescale_factor: 1 / 255, do_normalize: true, ...IMAGENET,
};

const siglipPreprocessor = (size: number): PreprocessorConfigJson => ({
  image_processor_type: 'SiglipImageProcessor', do_convert_rgb: true, do_resize: true, size: { height: size, width: size }, resample: 2,
  do_rescale: true, rescale_factor: 1 / 255, do_normalize: true, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5],
});

const DINOV2_SIZES = {
  small: { hidden_size: 384, num_hidden_layers: 12, num_attention_heads: 6 },
  base: { hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12 },
  large: { hidden_size: 1024, num_hidden_layers: 24, num_attention_heads: 16 },
  giant: { hidden_size: 1536, num_hidden_layers: 40, num_attention_heads: 24, use_swiglu_ffn: true },
} as const;

const SIGLIP2_SIZES = {
  base: { hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 12 },
  large: { hidden_size: 1024, intermediate_size: 4096, num_hidden_layers: 24, num_attention_heads: 16 },
  so400m: { hidden_size: 1152, intermediate_size: 4304, num_hidden_layers: 27, num_attention_heads: 16 },
  'giant-opt': { hidden_size: 1536, intermediate_size: 6144, num_hidden_layers: 40, num_attention_heads: 16 },
} as const;

function preset(name: string, hubId: string, configJson: Record<string, unknown>, preprocessor: PreprocessorConfigJson, imageSize: number): EncoderPreset {
  const config = parseEncoderConfig(configJson, `preset ${name}`);
  return {
    name, hubId, configJson, config, preprocessor, imageSize,
    patchSize: config.patchSize, hiddenSize: config.hiddenSize, numLayers: config.numHiddenLayers,
    grid: Math.floor(imageSize / config.patchSize), parameters: parameterCountOf(config),
  };
}

function build(): Record<string, EncoderPreset> {
  const out: Record<string, EncoderPreset> = {};
  for (const [size, dims] of Object.entries(DINOV2_SIZES)) {
    const base = { ...dims, patch_size: 14, image_size: 518, mlp_ratio: 4, hidden_act: 'gelu', layer_norm_eps: 1e-6, qkv_bias: true, layerscale_value: 1, num_channels: 3 };
    out[`dinov2-${size}`] = preset(`dinov2-${size}`, `facebook/dinov2-${size}`, { model_type: 'dinov2', ...base }, DINOV2_PREPROCESSOR, 224);
    out[`dinov2-with-registers-${size}`] = preset(
      `dinov2-with-registers-${size}`, `facebook/dinov2-with-registers-${size}`,
      { model_type: 'dinov2_with_registers', num_register_tokens: 4, ...base }, DINOV2_PREPROCESSOR, 224,
    );
  }
  const siglip2: Array<[keyof typeof SIGLIP2_SIZES, number, number]> = [
    ['base', 16, 256], ['large', 16, 256], ['so400m', 14, 224], ['so400m', 16, 256], ['giant-opt', 16, 256], ['giant-opt', 16, 384],
  ];
  for (const [size, patch, res] of siglip2) {
    const name = `siglip2-${size}-patch${patch}-${res}`;
    const vision = { model_type: 'siglip_vision_model', ...SIGLIP2_SIZES[size], patch_size: patch, image_size: res, hidden_act: 'gelu_pytorch_tanh', layer_norm_eps: 1e-6, num_channels: 3 };
    out[name] = preset(name, `google/${name}`, vision, siglipPreprocessor(res), res);
  }
  return out;
}

/** Every preset by name (e.g. 'dinov2-giant', 'siglip2-giant-opt-patch16-256'). */
export const PRESETS: Readonly<Record<string, EncoderPreset>> = Object.freeze(build());

/** The preset for a name or a hub id, or undefined. */
export function findPreset(nameOrHubId: string): EncoderPreset | undefined {
  return PRESETS[nameOrHubId] ?? Object.values(PRESETS).find((p) => p.hubId === nameOrHubId);
}
