// Two registries:
//  - model types: config.json `model_type` -> how to build the backbone and where its keys sit in a
//    checkpoint (dinov2, dinov2_with_registers, siglip_vision_model, siglip; extensible);
//  - named encoders: any FeatureEncoder factory under a name, so FAE accepts encoders this package
//    did not write (`registerEncoder('my-vit', async (opts) => myEncoder)`, then loadEncoder('my-vit')).
import { ConfigError } from '@fae/core';
import { parseDinov2Config, parseSiglipVisionConfig } from './configs.js';
import { Dinov2Model } from './dinov2/dinov2-model.js';
import { SiglipVisionTransformer } from './siglip/siglip-vision-model.js';
import type { FeatureEncoder } from './feature-encoder.js';
import type { LoadEncoderOptions } from './load-options.js';
import type { ViTBackbone } from './vit-backbone.js';

export interface ModelTypeEntry {
  /** Builds the architecture (random weights) from a parsed config.json. */
  build(config: Record<string, unknown>, source: string): ViTBackbone;
  /** The key prefix of the backbone inside a checkpoint with these keys ('' for none). */
  weightsPrefix(keys: readonly string[]): string;
}

function prefixAmong(keys: readonly string[], candidates: string[]): string {
  return candidates.find((p) => p && keys.some((k) => k.startsWith(p))) ?? '';
}

const dinov2: ModelTypeEntry = {
  build: (config, source) => new Dinov2Model(parseDinov2Config(config, source)),
  // Dinov2Model checkpoints have no prefix; task models (e.g. ...ForImageClassification) nest it.
  weightsPrefix: (keys) => (keys.some((k) => k.startsWith('embeddings.')) ? '' : prefixAmong(keys, ['dinov2_with_registers.', 'dinov2.'])),
};

const siglip: ModelTypeEntry = {
  build: (config, source) => new SiglipVisionTransformer(parseSiglipVisionConfig(config, source)),
  // SiglipVisionModel and SiglipModel keep the tower under `vision_model.` (the text tower, if any, is ignored).
  weightsPrefix: (keys) => prefixAmong(keys, ['vision_model.']),
};

const MODEL_TYPES = new Map<string, ModelTypeEntry>([
  ['dinov2', dinov2],
  ['dinov2_with_registers', dinov2],
  ['siglip_vision_model', siglip],
  ['siglip', siglip],
]);

/** Adds (or replaces) the builder of a config.json `model_type`. */
export function registerModelType(modelType: string, entry: ModelTypeEntry): void {
  MODEL_TYPES.set(modelType, entry);
}

export function modelTypeEntry(modelType: unknown, source: string): ModelTypeEntry {
  const entry = typeof modelType === 'string' ? MODEL_TYPES.get(modelType) : undefined;
  if (!entry) {
    const hint = modelType === 'siglip2' ? ' (SigLIP2 NaFlex is not supported; use a fixed-resolution SigLIP2 checkpoint, model_type "siglip")' : '';
    throw new ConfigError(source, `unsupported model_type ${JSON.stringify(modelType)}${hint}; known: ${[...MODEL_TYPES.keys()].join(', ')} (add others with registerModelType)`);
  }
  return entry;
}

/** Builds a backbone with random weights from a config.json object. */
export function createBackbone(config: Record<string, unknown>, source = 'config.json'): ViTBackbone {
  return modelTypeEntry(config.model_type, source).build(config, source);
}

export type EncoderFactory = (options: LoadEncoderOptions) => FeatureEncoder | Promise<FeatureEncoder>;

const ENCODERS = new Map<string, EncoderFactory>();

/** Registers an encoder under `name`; loadEncoder(name, options) then calls `factory(options)`. */
export function registerEncoder(name: string, factory: EncoderFactory): void {
  if (!name) throw new ConfigError('registerEncoder', 'name must be non-empty');
  ENCODERS.set(name, factory);
}

export function unregisterEncoder(name: string): boolean {
  return ENCODERS.delete(name);
}

export function registeredEncoder(name: string): EncoderFactory | undefined {
  return ENCODERS.get(name);
}

export function registeredEncoderNames(): string[] {
  return [...ENCODERS.keys()];
}
