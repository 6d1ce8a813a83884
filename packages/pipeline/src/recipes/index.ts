import { ConfigError } from '@fae/core';
import { DIGITS_RECIPE } from './digits.js';
import { PAPER_DINOV2_G_RECIPE, PAPER_SIGLIP2_RECIPE } from './paper.js';
import { findPreset } from '@fae/encoders';
import { HALF, IMAGENET_MEAN, IMAGENET_STD } from '../preprocess.js';
import { checkRecipe, type PipelineRecipe, type PretrainedEncoderSpec } from './recipe.js';
import { SMOKE_RECIPE } from './smoke.js';

export * from './recipe.js';
export { DIGITS_RECIPE } from './digits.js';
export { SMOKE_RECIPE } from './smoke.js';
export { PAPER_DINOV2_G_RECIPE, PAPER_SIGLIP2_RECIPE } from './paper.js';

export const RECIPES: Readonly<Record<string, PipelineRecipe>> = Object.freeze({
  smoke: SMOKE_RECIPE,
  digits: DIGITS_RECIPE,
  'paper-dinov2-g': PAPER_DINOV2_G_RECIPE,
  'paper-siglip2': PAPER_SIGLIP2_RECIPE,
});

/** A copy of the named recipe (ConfigError listing the names when unknown). */
export function getRecipe(name: string): PipelineRecipe {
  const r = RECIPES[name];
  if (!r) throw new ConfigError('recipe', `unknown recipe '${name}' (known: ${Object.keys(RECIPES).join(', ')})`);
  return checkRecipe(structuredClone(r));
}

/**
 * A recipe with another frozen encoder (hub id, preset name or folder): `--encoder`. Its input size
 * and normalisation come from the matching @fae/encoders preset (DINOv2: 224, ImageNet mean/std;
 * SigLIP2: its resolution, 0.5/0.5), or are given in `o`; without either, a name containing
 * 'siglip' gets 256 and 0.5/0.5, anything else DINOv2's 224 and ImageNet statistics.
 */
export function withEncoder(r: PipelineRecipe, source: string, o: Partial<Pick<PretrainedEncoderSpec, 'encoderSize' | 'mean' | 'std'>> = {}): PipelineRecipe {
  const preset = findPreset(source);
  const siglip = preset ? preset.config.modelType.startsWith('siglip') : /siglip/i.test(source);
  const mean = (preset?.preprocessor.image_mean as PretrainedEncoderSpec['mean'] | undefined) ?? (siglip ? HALF : IMAGENET_MEAN);
  const std = (preset?.preprocessor.image_std as PretrainedEncoderSpec['std'] | undefined) ?? (siglip ? HALF : IMAGENET_STD);
  const encoderSize = o.encoderSize ?? preset?.imageSize ?? (siglip ? 256 : 224);
  return checkRecipe({ ...structuredClone(r), encoder: { kind: 'pretrained', source, encoderSize, mean: o.mean ?? mean, std: o.std ?? std } });
}
