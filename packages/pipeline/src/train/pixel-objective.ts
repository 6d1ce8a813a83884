// The pixel decoder's objective in a pipeline run (stages Ia and II): the recipe names a
// @fae/decoders PIXEL_OBJECTIVE_PRESETS entry (weights, GAN starts as fractions of the stage's steps)
// and the discriminator's size; trainPipeline supplies the perceptual loss, LPIPS-VGG16 from
// @fae/eval, either ready (`perceptual`) or loaded from `lpipsWeights`:
//   a folder   holding a torchvision VGG16 file (vgg16.safetensors | vgg16-397923af.pth | vgg16.pth)
//              and the lpips v0.1 linear layers (lpips_vgg_v0.1.safetensors | lpips_lin_v0.1.safetensors | vgg.pth)
//   { backbone, linear }  each a file, an http(s) URL or a hub location org/name/file (@fae/eval openWeights)
// Nothing is fetched unless asked, and a preset weighing a perceptual term never runs without one:
// MissingPerceptualLossError before any stage trains.
import { ConfigError, withSeededRandom } from '@fae/core';
import {
  PIXEL_OBJECTIVE_PRESETS, PixelDecoderObjective, pixelObjectivePreset,
  type PerceptualLoss, type PixelDecoder, type PixelObjectiveOptions, type PixelObjectivePreset,
} from '@fae/decoders';
import { Lpips, openWeights } from '@fae/eval';
import type { HubOptions } from '@fae/core';
import type { PipelineRecipe, PixelObjectiveSpec } from '../recipes/recipe.js';
import { joinPath } from '../components.js';
import { nodeFsPromises } from '../node-fs.js';

/** Where trainPipeline loads LPIPS-VGG16 from: a folder, or the two files (paths, URLs, hub org/name/file). */
export type LpipsWeightsSource = string | { backbone: string | Uint8Array; linear: string | Uint8Array };

/** The recipe's objective weighs a perceptual term and trainPipeline got neither `perceptual` nor usable `lpipsWeights`. */
export class MissingPerceptualLossError extends ConfigError {
  constructor(recipe: string, preset: string, weight: number, why: string) {
    super(`recipe ${recipe}.pixelObjective`, `preset '${preset}' weighs LPIPS-VGG16 by ${weight} and ${why}: pass trainPipeline's lpipsWeights (a folder with vgg16.safetensors|vgg16-397923af.pth and vgg.pth|lpips_vgg_v0.1.safetensors, or { backbone, linear } files / URLs / hub org/name/file) or a ready perceptual loss`);
    this.name = 'MissingPerceptualLossError';
  }
}

const BACKBONE_FILES = ['vgg16.safetensors', 'vgg16-397923af.pth', 'vgg16.pth'];
const LINEAR_FILES = ['lpips_vgg_v0.1.safetensors', 'lpips_lin_v0.1.safetensors', 'vgg.pth'];

export function presetOf(spec: PixelObjectiveSpec, where: string): PixelObjectivePreset {
  const p = (PIXEL_OBJECTIVE_PRESETS as Record<string, PixelObjectivePreset>)[spec?.preset];
  if (!p) throw new ConfigError(`${where}.preset`, `unknown pixel objective '${spec?.preset}' (known: ${Object.keys(PIXEL_OBJECTIVE_PRESETS).join(', ')})`);
  return p;
}

/** Whether the recipe's objective must have a perceptual loss to run. */
export function needsPerceptual(r: PipelineRecipe): boolean {
  return presetOf(r.pixelObjective, `recipe ${r.name}.pixelObjective`).perceptualWeight > 0 && (r.pixelObjective.perceptual ?? 'required') === 'required';
}

/** Whether the recipe's objective uses a perceptual loss when one is given. */
export function usesPerceptual(r: PipelineRecipe): boolean {
  return presetOf(r.pixelObjective, `recipe ${r.name}.pixelObjective`).perceptualWeight > 0;
}

/** LPIPS-VGG16 (eval mode, frozen) from `source`; MissingPerceptualLossError naming what is absent or unreadable. */
export async function loadLpips(source: LpipsWeightsSource, recipe: PipelineRecipe, hub: HubOptions = {}): Promise<Lpips> {
  const preset = recipe.pixelObjective.preset;
  const weight = presetOf(recipe.pixelObjective, `recipe ${recipe.name}.pixelObjective`).perceptualWeight;
  let files: { backbone: string | Uint8Array; linear: string | Uint8Array };
  if (typeof source === 'string') {
    const fs = await nodeFsPromises(source);
    const names = await fs.readdir(source).catch(() => null);
    if (!names) throw new MissingPerceptualLossError(recipe.name, preset, weight, `lpipsWeights '${source}' is not a readable folder`);
    const backbone = BACKBONE_FILES.find((f) => names.includes(f));
    const linear = LINEAR_FILES.find((f) => names.includes(f));
    if (!backbone || !linear) {
      throw new MissingPerceptualLossError(recipe.name, preset, weight, `lpipsWeights folder '${source}' lacks ${!backbone ? `the VGG16 backbone (${BACKBONE_FILES.join(' | ')})` : ''}${!backbone && !linear ? ' and ' : ''}${!linear ? `the linear layers (${LINEAR_FILES.join(' | ')})` : ''}`);
    }
    files = { backbone: joinPath(source, backbone), linear: joinPath(source, linear) };
  } else files = source;
  const lpips = new Lpips();
  try {
    const open = (s: string | Uint8Array, probeKey: string) => openWeights(s, { ...hub, probeKey }).catch((e: Error) => {
      throw new MissingPerceptualLossError(recipe.name, preset, weight, `its weights '${typeof s === 'string' ? s : 'bytes'}' could not be opened (${e.message})`);
    });
    const backbone = await open(files.backbone, 'features.0.weight');
    const report = await lpips.loadBackbone(backbone);
    const lin = await open(files.linear, 'lin0.model.1.weight');
    const reports = await lpips.loadLinearLayers(lin);
    for (const rep of [report, ...reports]) {
      if (rep.missing.length) throw new MissingPerceptualLossError(recipe.name, preset, weight, `its weights lack ${rep.missing.slice(0, 3).join(', ')}${rep.missing.length > 3 ? ', ...' : ''}`);
    }
    return lpips;
  } catch (e) {
    lpips.dispose();
    throw e;
  }
}

/** The objective a pixel stage of `steps` steps trains with; its discriminator seeded by `seed`. */
export function buildPixelObjective(decoder: PixelDecoder, r: PipelineRecipe, steps: number, seed: number, perceptual: PerceptualLoss | null): PixelDecoderObjective {
  const spec = r.pixelObjective;
  const p = presetOf(spec, `recipe ${r.name}.pixelObjective`);
  let options: PixelObjectiveOptions;
  if (p.perceptualWeight > 0 && !perceptual) {
    if (needsPerceptual(r)) throw new MissingPerceptualLossError(r.name, spec.preset, p.perceptualWeight, 'no perceptual loss was given');
    // perceptual: 'when-given' (the smoke recipe) and none given: the preset's other terms, logged by
    // describeObjective (the preset's check is satisfied by a loss that is dropped right here, never called)
    const dropped: PerceptualLoss = () => {
      throw new ConfigError(`recipe ${r.name}.pixelObjective`, 'internal: the dropped perceptual loss was called');
    };
    options = { ...pixelObjectivePreset(spec.preset, { totalSteps: steps, perceptual: dropped, discriminator: spec.discriminator }), perceptual: undefined, perceptualWeight: 0 };
  } else {
    options = pixelObjectivePreset(spec.preset, { totalSteps: steps, perceptual: perceptual ?? undefined, discriminator: spec.discriminator });
  }
  return withSeededRandom(seed, () => new PixelDecoderObjective(decoder, options));
}

/** One line for the stage log, e.g. "fae-paper: l1 + 1 x LPIPS + 0.75 x adaptive GAN from step 2 (D from 2)". */
export function describeObjective(o: PixelDecoderObjective, preset: string): string {
  const x = o.options;
  const terms = [`${x.reconstructionWeight} x ${x.reconstruction}`];
  if (x.perceptual) terms.push(`${x.perceptualWeight} x perceptual`);
  else if ((PIXEL_OBJECTIVE_PRESETS as Record<string, PixelObjectivePreset>)[preset].perceptualWeight > 0) terms.push('no perceptual (none given)');
  if (x.gan) terms.push(`${x.gan.weight} x ${x.gan.adaptive ? 'adaptive ' : ''}GAN from step ${x.gan.start} (D from ${x.gan.discStart})`);
  return `${preset}: ${terms.join(' + ')}`;
}
