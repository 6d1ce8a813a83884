import { ConfigError } from '@fae/core';
import { DIGITS_RECIPE } from './digits.js';
import { PAPER_DINOV2_G_RECIPE, PAPER_SIGLIP2_RECIPE } from './paper.js';
import { checkRecipe, type PipelineRecipe } from './recipe.js';
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

/** A recipe with another frozen encoder (hub id, preset or folder): `--encoder`. */
export function withEncoder(r: PipelineRecipe, source: string, o: { encoderSize: number; mean: [number, number, number]; std: [number, number, number] }): PipelineRecipe {
  return { ...r, encoder: { kind: 'pretrained', source, ...o } };
}
