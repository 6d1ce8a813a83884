// loadEncoder(source, options): a registered encoder name, a preset name ('dinov2-giant'), a hub id
// ('facebook/dinov2-giant'), an http(s) folder URL or a local folder -> a ready FeatureEncoder.
// Reads config.json (building the architecture from its model_type), preprocessor_config.json
// (when present) and model.safetensors or a sharded index, and loads the weights strictly.
import { resolveModel, loadWeights, loadModuleWeights, ConfigError, type PreprocessorConfigJson } from '@fae/core';
import type { LoadEncoderOptions } from './load-options.js';
import { TransformersEncoder, type FeatureEncoder } from './feature-encoder.js';
import { findPreset } from './presets.js';
import { modelTypeEntry, registeredEncoder } from './registry.js';

export type { LoadEncoderOptions } from './load-options.js';


/** Loads an encoder; see the file header for what `source` may be. */
export async function loadEncoder(source: string, options: LoadEncoderOptions = {}): Promise<FeatureEncoder> {
  const factory = registeredEncoder(source);
  if (factory) return factory(options);
  const preset = findPreset(source);
  const location = preset && !source.includes('/') ? preset.hubId : source;
  return loadTransformersEncoder(location, options, preset?.preprocessor);
}

/** Loads a Hugging Face DINOv2 / SigLIP checkpoint (no registry or preset lookup). */
export async function loadTransformersEncoder(source: string, options: LoadEncoderOptions = {}, fallbackPreprocessor?: PreprocessorConfigJson): Promise<TransformersEncoder> {
  const resolved = await resolveModel(source, options);
  const name = resolved.source.name;
  if (!resolved.config) throw new ConfigError(name, 'config.json is missing');
  if (!resolved.weights) throw new ConfigError(name, 'no weights were resolved');
  const entry = modelTypeEntry(resolved.config.model_type, `${name}: config.json`);
  const model = await loadModuleWeights(entry.build(resolved.config, `${name}: config.json`), () => loadWeights(resolved), (store) => ({
    strict: options.strict ?? true, prefix: entry.weightsPrefix(store.keys()),
  }));
  if (options.interpolatePosEncoding && 'interpolatePosEncoding' in model) (model as { interpolatePosEncoding: boolean }).interpolatePosEncoding = true;
  const preprocessor = options.preprocessorConfig ?? (resolved.preprocessorConfig as PreprocessorConfigJson | null) ?? fallbackPreprocessor;
  return new TransformersEncoder(name, model, preprocessor ?? undefined, { algorithm: options.resizeAlgorithm });
}
