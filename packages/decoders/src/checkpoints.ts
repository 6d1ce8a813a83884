// Component folders (config.json + model.safetensors, @fae/core's component format) for the
// decoders, and the FeatureAutoEncoder as two sibling folders: <dir>/adapter and <dir>/feature-decoder.
import { loadComponent, saveComponent, type HubOptions } from '@fae/core';
import { loadSingleAttentionEncoder, saveSingleAttentionEncoder } from '@fae/adapter';
import { FEATURE_DECODER_CLASS, PIXEL_DECODER_CLASS } from './components.js';
import { FeatureAutoEncoder } from './feature-autoencoder.js';
import type { FeatureDecoder } from './feature-decoder.js';
import type { PixelDecoder } from './pixel-decoder.js';

export const FAE_ADAPTER_FOLDER = 'adapter';
export const FAE_DECODER_FOLDER = 'feature-decoder';

export function saveFeatureDecoder(decoder: FeatureDecoder, dir: string, metadata: Record<string, string> = {}): Promise<void> {
  return saveComponent(dir, decoder, { metadata });
}

export function loadFeatureDecoder(source: string, opts: HubOptions = {}): Promise<FeatureDecoder> {
  return loadComponent<FeatureDecoder>(source, { ...opts, expectClass: FEATURE_DECODER_CLASS });
}

/** Saves under RAE's key names (PixelDecoder.stateDict), so the weights also load into RAE's GeneralDecoder. */
export function savePixelDecoder(decoder: PixelDecoder, dir: string, metadata: Record<string, string> = {}): Promise<void> {
  return saveComponent(dir, decoder, { metadata });
}

/** A PixelDecoder component folder, or an RAE decoder (ViTMAEConfig config.json + model.pt / model.safetensors). */
export function loadPixelDecoder(source: string, opts: HubOptions = {}): Promise<PixelDecoder> {
  return loadComponent<PixelDecoder>(source, { ...opts, expectClass: PIXEL_DECODER_CLASS });
}

/** Writes <dir>/adapter and <dir>/feature-decoder (each atomically). */
export async function saveFeatureAutoEncoder(fae: FeatureAutoEncoder, dir: string, metadata: Record<string, string> = {}): Promise<void> {
  const base = dir.replace(/[\\/]+$/, '');
  await saveSingleAttentionEncoder(fae.encoder, `${base}/${FAE_ADAPTER_FOLDER}`, metadata);
  await saveFeatureDecoder(fae.decoder, `${base}/${FAE_DECODER_FOLDER}`, metadata);
}

/**
 * Loads both parts: from a folder or URL holding adapter/ and feature-decoder/, or from two sources
 * (folders, URLs or hub ids) given separately.
 */
export async function loadFeatureAutoEncoder(source: string | { adapter: string; featureDecoder: string }, opts: HubOptions = {}): Promise<FeatureAutoEncoder> {
  const base = typeof source === 'string' ? source.replace(/[\\/]+$/, '') : null;
  const encoder = await loadSingleAttentionEncoder(base ? `${base}/${FAE_ADAPTER_FOLDER}` : (source as { adapter: string }).adapter, opts);
  try {
    const decoder = await loadFeatureDecoder(base ? `${base}/${FAE_DECODER_FOLDER}` : (source as { featureDecoder: string }).featureDecoder, opts);
    return new FeatureAutoEncoder(encoder, decoder);
  } catch (e) {
    encoder.dispose();
    throw e;
  }
}
