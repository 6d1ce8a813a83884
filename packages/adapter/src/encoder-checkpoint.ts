// Save / load a SingleAttentionEncoder as a component folder (config.json + model.safetensors);
// the latent statistics buffers travel in the safetensors file.
import { loadComponent, saveComponent, type OpenComponentOptions } from './checkpoint.js';
import type { SingleAttentionEncoderConfig } from './config.js';
import { SingleAttentionEncoder } from './single-attention-encoder.js';

export const ADAPTER_CLASS = 'SingleAttentionEncoder';

/** Writes `encoder` to the folder `dir` (atomically). */
export function saveSingleAttentionEncoder(encoder: SingleAttentionEncoder, dir: string, metadata: Record<string, string> = {}): Promise<void> {
  return saveComponent(dir, encoder, ADAPTER_CLASS, encoder.config, metadata);
}

/** Loads an encoder from a folder, an http(s) URL of a folder, or a hub id (strict weights). */
export function loadSingleAttentionEncoder(source: string, opts: OpenComponentOptions = {}): Promise<SingleAttentionEncoder> {
  return loadComponent<SingleAttentionEncoder, SingleAttentionEncoderConfig>(source, ADAPTER_CLASS, (c) => new SingleAttentionEncoder(c), opts);
}
