// Named sizes (DiT's S/B/L/XL widths and depths) with patch 1 or 2, on the FAE latent (16x16x32,
// 1000 ImageNet classes). 'LightningDiT-*' turn on what the released LightningDiT-XL config uses
// (SwiGLU, RoPE, RMSNorm; no q/k norm); 'SiT-*' are the same sizes with every option off.
// LightningDiT-XL/1 has 675,256,736 parameters: the paper's 675.26M.
import { ConfigError } from '@fae/core';
import { lightningDiTConfig, parameterCountOf, type LightningDiTConfig } from './config.js';
import { LightningDiT } from './lightningdit.js';

const SIZES = {
  S: { depth: 12, hiddenSize: 384, numHeads: 6 },
  B: { depth: 12, hiddenSize: 768, numHeads: 12 },
  L: { depth: 24, hiddenSize: 1024, numHeads: 16 },
  XL: { depth: 28, hiddenSize: 1152, numHeads: 16 },
} as const;

/** The FAE generator's input: 16x16x32 latents, ImageNet's 1000 classes. */
const FAE_LATENT = { inputSize: 16, inChannels: 32, numClasses: 1000, classDropoutProb: 0.1 };
const LIGHTNING = { useSwiglu: true, useRope: true, useRmsnorm: true, useQknorm: false };

export interface DiffusionPreset {
  config: LightningDiTConfig;
  /** Parameters as torch counts them (pos_embed included, RoPE buffers not). */
  parameters: number;
  description: string;
}

function build(): Record<string, DiffusionPreset> {
  const out: Record<string, DiffusionPreset> = {};
  for (const family of ['LightningDiT', 'SiT'] as const) {
    for (const [size, dims] of Object.entries(SIZES)) {
      for (const patchSize of [1, 2]) {
        const config = lightningDiTConfig({ ...FAE_LATENT, ...dims, patchSize, ...(family === 'LightningDiT' ? LIGHTNING : {}) });
        out[`${family}-${size}/${patchSize}`] = {
          config,
          parameters: parameterCountOf(config),
          description: `${family} ${size}, patch ${patchSize}, ${(16 / patchSize) ** 2} tokens of 16x16x32 latents`,
        };
      }
    }
  }
  return out;
}

export const PRESETS: Readonly<Record<string, DiffusionPreset>> = build();

/** A model of a named preset; `overrides` replace config fields (e.g. inputSize, inChannels). */
export function createFromPreset(name: string, overrides: Partial<LightningDiTConfig> = {}, opts: { seed?: number } = {}): LightningDiT {
  const p = PRESETS[name];
  if (!p) throw new ConfigError('diffusion presets', `unknown preset '${name}' (known: ${Object.keys(PRESETS).join(', ')})`);
  return new LightningDiT({ ...p.config, ...overrides }, opts);
}
