// Building and loading the example's components. Browser-safe (no Node imports): files are read
// through a `ReadFile` function (the CLI reads folders / URLs / hub ids, the web app fetches).
// Every component folder holds config.json + model.safetensors (PyTorch key names and layouts).
import { ConfigError, componentEntry, instantiateComponent, isComponentConfigJson, openComponentFiles, type Module } from '@fae/core';
import { SingleAttentionEncoder } from '@fae/adapter';
import { FeatureAutoEncoder, FeatureDecoder, PixelDecoder } from '@fae/decoders';
import { LightningDiT } from '@fae/diffusion';
import { TarFlow } from '@fae/flow';
import type { Dinov2Model } from '@fae/encoders';
import type { DigitClassifier } from '../models/digit-classifier.js';
// Side-effect imports: each package registers its component classes when loaded (type-only imports
// would be dropped by the compiler and leave the registry without them).
import '@fae/adapter';
import '@fae/decoders';
import '@fae/diffusion';
import '@fae/encoders';
import '@fae/flow';
import '../models/components.js'; // registers DigitClassifier
import { buildDigitEncoder, type DigitEncoderConfigJson } from '../models/digit-encoder.js';
import { COMPONENTS, DEFAULT_SAMPLING, type ComponentName, type SamplingConfig } from './config.js';

/** Reads `<models>/<component>/<file>`. */
export type ReadFile = (component: string, file: string) => Promise<Uint8Array>;

/** config.json of a component other than the encoder (which uses transformers' format). */
export interface ComponentConfigJson<C = unknown> {
  class: string;
  config: C;
  /** Free-form notes: training steps, seconds, data. */
  trained?: Record<string, unknown>;
}

export interface DigitModels {
  encoder?: Dinov2Model;
  fae?: FeatureAutoEncoder;
  pixelDecoder?: PixelDecoder;
  dit?: LightningDiT;
  tarflow?: TarFlow;
  ditPixels?: LightningDiT;
  classifier?: DigitClassifier;
  sampling: SamplingConfig;
}

const decoder = new TextDecoder();

async function readJson<T>(read: ReadFile, component: string, file = 'config.json'): Promise<T> {
  const bytes = await read(component, file);
  try {
    return JSON.parse(decoder.decode(bytes)) as T;
  } catch (e) {
    throw new ConfigError(`${component}/${file}`, `not valid JSON (${(e as Error).message})`);
  }
}

function expectClass(json: ComponentConfigJson, cls: string, component: string): void {
  if (json?.class !== cls || typeof json.config !== 'object') throw new ConfigError(`${component}/config.json`, `expected { "class": "${cls}", "config": {...} }, found class ${JSON.stringify(json?.class)}`);
}

/** The registered class each component folder must hold. */
const CLASS_OF: Record<ComponentName, string> = {
  encoder: 'Dinov2Model', classifier: 'DigitClassifier', adapter: 'SingleAttentionEncoder', featureDecoder: 'FeatureDecoder',
  pixelDecoder: 'PixelDecoder', dit: 'LightningDiT', ditPixels: 'LightningDiT', tarflow: 'TarFlow',
};

/** Loads one component through @fae/core's component registry (config + weights, strict). */
export async function loadComponent<M extends Module>(read: ReadFile, name: ComponentName): Promise<M> {
  const folder = COMPONENTS[name];
  const opened = await openComponentFiles(folder, (file) => read(folder, file));
  const module = await instantiateComponent<M>(opened, { expectClass: CLASS_OF[name] });
  module.eval();
  return module;
}

/** Builds a component from its config.json (random weights), e.g. before training. */
export function buildComponent(name: ComponentName, json: ComponentConfigJson | DigitEncoderConfigJson): Module {
  const folder = COMPONENTS[name];
  if (name === 'encoder' && !isComponentConfigJson(json)) return buildDigitEncoder(json as DigitEncoderConfigJson);
  expectClass(json as ComponentConfigJson, CLASS_OF[name], folder);
  const c = json as ComponentConfigJson<object>;
  return componentEntry(c.class, `${folder}/config.json`).create(c.config, `${folder}/config.json`);
}

export type Need = 'encoder' | 'fae' | 'pixelDecoder' | 'dit' | 'tarflow' | 'ditPixels' | 'classifier';

/** Loads the components named in `need` (all but the pixel-space baseline by default). */
export async function loadDigitModels(read: ReadFile, need: Need[] = ['encoder', 'fae', 'pixelDecoder', 'dit', 'tarflow', 'classifier']): Promise<DigitModels> {
  const models: DigitModels = { sampling: { ...DEFAULT_SAMPLING } };
  try {
    try {
      models.sampling = { ...DEFAULT_SAMPLING, ...(await readJson<Partial<SamplingConfig>>(read, '.', 'sampling.json')) };
    } catch {
      // no sampling.json: the defaults
    }
    if (need.includes('encoder')) models.encoder = await loadComponent<Dinov2Model>(read, 'encoder');
    if (need.includes('fae')) {
      const adapter = await loadComponent<SingleAttentionEncoder>(read, 'adapter');
      let dec: FeatureDecoder;
      try {
        dec = await loadComponent<FeatureDecoder>(read, 'featureDecoder');
      } catch (e) {
        adapter.dispose();
        throw e;
      }
      models.fae = new FeatureAutoEncoder(adapter, dec);
      models.fae.eval();
    }
    if (need.includes('pixelDecoder')) models.pixelDecoder = await loadComponent<PixelDecoder>(read, 'pixelDecoder');
    if (need.includes('dit')) models.dit = await loadComponent<LightningDiT>(read, 'dit');
    if (need.includes('tarflow')) models.tarflow = await loadComponent<TarFlow>(read, 'tarflow');
    if (need.includes('ditPixels')) models.ditPixels = await loadComponent<LightningDiT>(read, 'ditPixels');
    if (need.includes('classifier')) models.classifier = await loadComponent<DigitClassifier>(read, 'classifier');
  } catch (e) {
    disposeDigitModels(models);
    throw e;
  }
  return models;
}

export function disposeDigitModels(m: DigitModels): void {
  for (const k of ['encoder', 'fae', 'pixelDecoder', 'dit', 'tarflow', 'ditPixels', 'classifier'] as const) m[k]?.dispose();
}
