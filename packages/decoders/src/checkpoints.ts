// Component folders (config.json + model.safetensors, see @fae/adapter's checkpoint.ts) for the
// decoders, and the FeatureAutoEncoder as two sibling folders: <dir>/adapter and <dir>/feature-decoder.
import { loadComponent, loadSingleAttentionEncoder, saveComponent, saveSingleAttentionEncoder, type OpenComponentOptions } from '@fae/adapter';
import type { FeatureDecoderConfig, PixelDecoderConfig } from './config.js';
import { FeatureAutoEncoder } from './feature-autoencoder.js';
import { FeatureDecoder } from './feature-decoder.js';
import { PixelDecoder } from './pixel-decoder.js';

export const FEATURE_DECODER_CLASS = 'FeatureDecoder';
export const PIXEL_DECODER_CLASS = 'PixelDecoder';
export const FAE_ADAPTER_FOLDER = 'adapter';
export const FAE_DECODER_FOLDER = 'feature-decoder';

export function saveFeatureDecoder(decoder: FeatureDecoder, dir: string, metadata: Record<string, string> = {}): Promise<void> {
  return saveComponent(dir, decoder, FEATURE_DECODER_CLASS, decoder.config, metadata);
}

export function loadFeatureDecoder(source: string, opts: OpenComponentOptions = {}): Promise<FeatureDecoder> {
  return loadComponent<FeatureDecoder, FeatureDecoderConfig>(source, FEATURE_DECODER_CLASS, (c) => new FeatureDecoder(c), opts);
}

/** Saves under RAE's key names (PixelDecoder.stateDict), so the weights also load into RAE's GeneralDecoder. */
export function savePixelDecoder(decoder: PixelDecoder, dir: string, metadata: Record<string, string> = {}): Promise<void> {
  return saveComponent(dir, decoder, PIXEL_DECODER_CLASS, decoder.config, metadata);
}

export function loadPixelDecoder(source: string, opts: OpenComponentOptions = {}): Promise<PixelDecoder> {
  return loadComponent<PixelDecoder, PixelDecoderConfig>(source, PIXEL_DECODER_CLASS, (c) => new PixelDecoder(c), opts);
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
export async function loadFeatureAutoEncoder(source: string | { adapter: string; featureDecoder: string }, opts: OpenComponentOptions = {}): Promise<FeatureAutoEncoder> {
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
