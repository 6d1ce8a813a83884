// Registers this package's components with @fae/core's registry (a side effect of importing the
// package): FeatureDecoder, PixelDecoder, PatchDiscriminator and FeatureAutoEncoder (adapter +
// feature decoder in one folder; keys encoder.*, decoder.*). RAE's released pixel decoders (a
// transformers ViTMAEConfig config.json beside RAE's `model.pt` state dict) load as PixelDecoders.
import { ConfigError, loadModuleWeights, registerComponent, type OpenedComponent, type TensorStore } from '@fae/core';
import type { SingleAttentionEncoderConfig } from '@fae/adapter';
import { IMAGENET_MEAN, IMAGENET_STD, type FeatureDecoderConfig, type PixelDecoderConfig } from './config.js';
import { FeatureAutoEncoder } from './feature-autoencoder.js';
import { FeatureDecoder } from './feature-decoder.js';
import { PatchDiscriminator, type PatchDiscriminatorConfig } from './patch-discriminator.js';
import { PixelDecoder } from './pixel-decoder.js';

export const FEATURE_DECODER_CLASS = 'FeatureDecoder';
export const PIXEL_DECODER_CLASS = 'PixelDecoder';
export const PATCH_DISCRIMINATOR_CLASS = 'PatchDiscriminator';
export const FEATURE_AUTOENCODER_CLASS = 'FeatureAutoEncoder';

registerComponent(FEATURE_DECODER_CLASS, {
  type: FeatureDecoder,
  create: (config: Partial<FeatureDecoderConfig>) => new FeatureDecoder(config),
  configOf: (m: FeatureDecoder) => m.config,
});

registerComponent(PATCH_DISCRIMINATOR_CLASS, {
  type: PatchDiscriminator,
  create: (config: Partial<PatchDiscriminatorConfig>) => new PatchDiscriminator(config),
  configOf: (m: PatchDiscriminator) => m.config,
});

registerComponent(FEATURE_AUTOENCODER_CLASS, {
  type: FeatureAutoEncoder,
  create: (config: { encoder: Partial<SingleAttentionEncoderConfig>; decoder: Partial<FeatureDecoderConfig> }, where) => {
    if (typeof config?.encoder !== 'object' || typeof config?.decoder !== 'object') throw new ConfigError(where, 'a FeatureAutoEncoder config is {"encoder": {...}, "decoder": {...}}');
    return new FeatureAutoEncoder(config.encoder, config.decoder);
  },
  configOf: (m: FeatureAutoEncoder) => ({ encoder: m.encoder.config, decoder: m.decoder.config }),
});

/** True for RAE's decoder config.json: a transformers ViTMAEConfig (model_type 'vit_mae' with decoder_* fields). */
export function isRaeDecoderConfig(json: Record<string, unknown>): boolean {
  return json.model_type === 'vit_mae' && typeof json.decoder_hidden_size === 'number';
}

/**
 * A PixelDecoderConfig from RAE's decoder config.json. RAE overrides three ViTMAEConfig fields at
 * run time (stage1/rae.py): hidden_size = the encoder's feature width, patch_size = the decoder patch,
 * image_size = patch * sqrt(tokens); the config.json read here must hold those values. The output
 * is de-normalised with `image_mean` / `image_std` when present, else ImageNet's (DINOv2's processor).
 */
export function pixelDecoderConfigFromRae(json: Record<string, unknown>, where = 'config.json'): Partial<PixelDecoderConfig> {
  const num = (k: string, dflt?: number): number => {
    const v = json[k] ?? dflt;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(where, `${k} must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  const patch = num('patch_size');
  const image = num('image_size');
  if (image % patch) throw new ConfigError(where, `image_size ${image} is not a multiple of patch_size ${patch}`);
  const rgb = (k: string, dflt: [number, number, number]): [number, number, number] => {
    const v = json[k];
    return Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number') ? (v as [number, number, number]) : dflt;
  };
  return {
    inputDim: num('hidden_size'),
    width: num('decoder_hidden_size'),
    depth: num('decoder_num_hidden_layers'),
    heads: num('decoder_num_attention_heads'),
    mlpDim: num('decoder_intermediate_size'),
    gridSize: image / patch,
    imageSize: image,
    clsToken: true,
    layerNormEps: num('layer_norm_eps', 1e-12),
    outputMean: rgb('image_mean', IMAGENET_MEAN),
    outputStd: rgb('image_std', IMAGENET_STD),
    noise: { mode: 'uniform', sigma: 0.8 }, // RAE's default noise_tau
  };
}

/** RAE weights: the named file, else model.safetensors, else RAE's `model.pt`. */
async function raeWeights(opened: OpenedComponent): Promise<TensorStore> {
  if (opened.weightsFile !== 'model.safetensors') return opened.openWeights();
  try {
    return await opened.openWeights();
  } catch (first) {
    try {
      return await opened.openWeights('model.pt');
    } catch {
      throw first;
    }
  }
}

registerComponent(PIXEL_DECODER_CLASS, {
  type: PixelDecoder,
  create: (config: Partial<PixelDecoderConfig>) => new PixelDecoder(config),
  configOf: (m: PixelDecoder) => m.config,
  detect: isRaeDecoderConfig,
  load: async (opened, config) => {
    const where = `${opened.source}/config.json`;
    const decoder = new PixelDecoder(isRaeDecoderConfig(config) ? pixelDecoderConfigFromRae(config, where) : (config as Partial<PixelDecoderConfig>));
    return loadModuleWeights(decoder, () => raeWeights(opened), { strict: true });
  },
});
