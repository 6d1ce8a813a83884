// Save / load a SingleAttentionEncoder as a component folder (config.json + model.safetensors,
// @fae/core's component format); the latent statistics buffers travel in the safetensors file.
import { loadComponent, saveComponent, type HubOptions } from '@fae/core';
import type { SingleAttentionEncoder } from './single-attention-encoder.js';
import { ADAPTER_CLASS } from './components.js';

/** Writes `encoder` to the folder `dir` (atomically); `metadata`: string notes kept with the weights. */
export function saveSingleAttentionEncoder(encoder: SingleAttentionEncoder, dir: string, metadata: Record<string, string> = {}): Promise<void> {
  return saveComponent(dir, encoder, { metadata });
}

/** Loads an encoder from a folder, an http(s) URL of a folder, or a hub id (strict weights). */
export function loadSingleAttentionEncoder(source: string, opts: HubOptions = {}): Promise<SingleAttentionEncoder> {
  return loadComponent<SingleAttentionEncoder>(source, { ...opts, expectClass: ADAPTER_CLASS });
}
