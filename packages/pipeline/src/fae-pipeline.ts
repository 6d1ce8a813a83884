// FaePipeline: the whole FAE as one object.
//
//   images [B, H, W, 3] in [0, 1]
//     -> encoder pixels (preprocessing: resize to the encoder input, normalise)
//     -> frozen encoder                      features x  [B, h, w, D]
//     -> adapter (posterior mean)            z           [B, h, w, c]
//     -> (z - mean) / std                    latents     [B, h, w, c]   <- encode() / generators
//     -> * std + mean -> feature decoder     x^          [B, h, w, D]
//     -> pixel decoder, clipped              images      [B, H, W, 3] in [0, 1]   <- decode()
//
// The latent normalisation statistics belong to the pipeline (pipeline.json) and are applied here.
// A models folder holds one sub-folder per component plus pipeline.json (format below); folders
// written before pipeline.json existed (the digits example's checkpoints) load by their fixed layout.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError, type HubOptions, type Module } from '@fae/core';
import type { SingleAttentionEncoder } from '@fae/adapter';
import type { FeatureDecoder, PixelDecoder } from '@fae/decoders';
import { loadEncoder, type FeatureEncoder } from '@fae/encoders';
import { joinPath, loadEncoderFolder, loadModule, readSourceJson, saveModule, writeJson } from './components.js';
import { toLatentGenerator, type GenerateProgress, type GeneratorDefaults, type LatentGenerator } from './generator.js';
import { HALF, checkPreprocessing, toEncoderPixels, type PipelinePreprocessing } from './preprocess.js';

export const PIPELINE_FORMAT = 'fae-pipeline';
export const PIPELINE_FILE = 'pipeline.json';

/** pipeline.json */
export interface PipelineManifest {
  format: typeof PIPELINE_FORMAT;
  version: 1;
  preprocessing: PipelinePreprocessing;
  /** A component folder of this pipeline, or an encoder source (hub id, preset, URL, folder) it references. */
  encoder: { folder: string } | { source: string };
  adapter: string;
  featureDecoder: string;
  pixelDecoder: string;
  /** Generator name -> folder and sampling defaults. */
  generators: Record<string, { folder: string; defaults: GeneratorDefaults }>;
  /** Per-channel statistics of the adapter's posterior means on the training set. */
  latentStats: { mean: number[]; std: number[] };
  /** Class names by label (from the dataset), when known. */
  classes?: string[];
  /** How it was made (recipe, dataset, steps). */
  trained?: Record<string, unknown>;
}

export interface FaePipelineParts {
  preprocessing: PipelinePreprocessing;
  encoder?: FeatureEncoder;
  /** Where the encoder comes from when it is not saved with the pipeline (a hub id or folder). */
  encoderSource?: string;
  adapter?: SingleAttentionEncoder;
  featureDecoder?: FeatureDecoder;
  pixelDecoder?: PixelDecoder;
  generators?: Record<string, LatentGenerator>;
  latentStats: { mean: ArrayLike<number>; std: ArrayLike<number> };
  classes?: string[];
  trained?: Record<string, unknown>;
}

export type PipelinePart = 'encoder' | 'adapter' | 'featureDecoder' | 'pixelDecoder' | 'generators';

export interface LoadPipelineOptions extends HubOptions {
  /** Which parts to load (default all). */
  parts?: PipelinePart[];
  /** Which generators to load (default all). */
  generators?: string[];
}

export interface GenerateOptions {
  labels: ArrayLike<number>;
  /** Generator name (default: the first, e.g. 'dit'). */
  generator?: string;
  sampler?: string;
  steps?: number;
  /** In the generator's own convention (see LatentSampleOptions.guidance). */
  guidance?: number;
  shift?: number;
  seed?: number;
  onProgress?: (p: GenerateProgress) => void;
}

export interface ReconstructResult {
  /** Frozen-encoder features [B, h, w, D]. */
  features: tf.Tensor4D;
  /** Normalised latents [B, h, w, c]. */
  latents: tf.Tensor4D;
  /** Feature-decoder output [B, h, w, D]. */
  reconFeatures: tf.Tensor4D;
  /** [B, H, W, 3] in [0, 1]. */
  images: tf.Tensor4D;
}

export class FaePipeline {
  readonly preprocessing: PipelinePreprocessing;
  encoder?: FeatureEncoder;
  encoderSource?: string;
  adapter?: SingleAttentionEncoder;
  featureDecoder?: FeatureDecoder;
  pixelDecoder?: PixelDecoder;
  readonly generators: Record<string, LatentGenerator>;
  classes?: string[];
  trained?: Record<string, unknown>;
  private stats: { mean: Float32Array; std: Float32Array };

  constructor(parts: FaePipelineParts) {
    this.preprocessing = checkPreprocessing(parts.preprocessing);
    Object.assign(this, { encoder: parts.encoder, encoderSource: parts.encoderSource, adapter: parts.adapter, featureDecoder: parts.featureDecoder, pixelDecoder: parts.pixelDecoder, classes: parts.classes, trained: parts.trained });
    this.generators = { ...(parts.generators ?? {}) };
    this.stats = { mean: Float32Array.from(parts.latentStats.mean), std: Float32Array.from(parts.latentStats.std) };
    if (this.stats.mean.length !== this.stats.std.length || this.stats.std.some((s) => !(s > 0))) {
      throw new ConfigError('latentStats', `mean and std must have one entry per latent channel, std > 0 (got ${this.stats.mean.length} / ${this.stats.std.length})`);
    }
  }

  /** Per-channel latent statistics (copies). */
  get latentStats(): { mean: number[]; std: number[] } {
    return { mean: Array.from(this.stats.mean), std: Array.from(this.stats.std) };
  }

  set latentStats(s: { mean: ArrayLike<number>; std: ArrayLike<number> }) {
    this.stats = { mean: Float32Array.from(s.mean), std: Float32Array.from(s.std) };
    this.adapter?.setLatentStats({ mean: this.stats.mean, std: this.stats.std } as never);
  }

  /** Latent channels c. */
  get latentChannels(): number {
    return this.stats.mean.length;
  }

  /** The names of the loaded generators ('dit', 'tarflow', ...). */
  get generatorNames(): string[] {
    return Object.keys(this.generators);
  }

  private need<T>(x: T | undefined, what: string): T {
    if (!x) throw new ConfigError('FaePipeline', `the ${what} is not loaded (load the pipeline with it, or train it)`);
    return x;
  }

  /** images [B, H, W, 3] in [0, 1] -> frozen-encoder features [B, h, w, D]. */
  features(images: tf.Tensor): tf.Tensor4D {
    const encoder = this.need(this.encoder, 'encoder');
    return tf.tidy(() => encoder.features(toEncoderPixels(images, this.preprocessing)));
  }

  /** Features [B, h, w, D] -> normalised latents [B, h, w, c] (the posterior mean). */
  encodeFeatures(features: tf.Tensor): tf.Tensor4D {
    const adapter = this.need(this.adapter, 'adapter');
    return tf.tidy(() => this.normalize(adapter.encode(features).mean));
  }

  /** images [B, H, W, 3] in [0, 1] -> normalised latents [B, h, w, c]. */
  encode(images: tf.Tensor): tf.Tensor4D {
    return tf.tidy(() => this.encodeFeatures(this.features(images)));
  }

  /** Normalised latents [B, h, w, c] -> features x^ [B, h, w, D]. */
  decodeFeatures(latents: tf.Tensor): tf.Tensor4D {
    const decoder = this.need(this.featureDecoder, 'feature decoder');
    return tf.tidy(() => decoder.forward(this.denormalize(latents)) as tf.Tensor4D);
  }

  /** Features [B, h, w, D] -> images [B, H, W, 3] in [0, 1]. */
  featuresToImages(features: tf.Tensor): tf.Tensor4D {
    const pixel = this.need(this.pixelDecoder, 'pixel decoder');
    return tf.tidy(() => tf.clipByValue(pixel.forward(features), 0, 1) as tf.Tensor4D);
  }

  /** Normalised latents [B, h, w, c] -> images [B, H, W, 3] in [0, 1]. */
  decode(latents: tf.Tensor): tf.Tensor4D {
    return tf.tidy(() => this.featuresToImages(this.decodeFeatures(latents)));
  }

  /** images -> features -> latents -> x^ -> images, every intermediate returned. */
  reconstructAll(images: tf.Tensor): ReconstructResult {
    return tf.tidy(() => {
      const features = this.features(images); // [B, h, w, D]
      const latents = this.encodeFeatures(features); // [B, h, w, c]
      const reconFeatures = this.decodeFeatures(latents); // [B, h, w, D]
      return { features, latents, reconFeatures, images: this.featuresToImages(reconFeatures) };
    });
  }

  /** images [B, H, W, 3] in [0, 1] -> their reconstructions [B, H', W', 3] in [0, 1]. */
  reconstruct(images: tf.Tensor): tf.Tensor4D {
    return tf.tidy(() => this.decode(this.encode(images)));
  }

  /** (z - mean) / std over the last axis. */
  normalize(z: tf.Tensor): tf.Tensor4D {
    this.checkChannels(z, 'latents');
    return tf.tidy(() => tf.div(tf.sub(z, tf.tensor1d(this.stats.mean)), tf.tensor1d(this.stats.std)) as tf.Tensor4D);
  }

  /** latents * std + mean over the last axis. */
  denormalize(latents: tf.Tensor): tf.Tensor4D {
    this.checkChannels(latents, 'latents');
    return tf.tidy(() => tf.add(tf.mul(latents, tf.tensor1d(this.stats.std)), tf.tensor1d(this.stats.mean)) as tf.Tensor4D);
  }

  private checkChannels(z: tf.Tensor, name: string): void {
    if (z.rank !== 4 || z.shape[3] !== this.latentChannels) throw new ShapeError(name, `[B, h, w, ${this.latentChannels}]`, `[${z.shape}]`);
  }

  /** The generator called `name` (default: the first). */
  generator(name?: string): LatentGenerator {
    const names = this.generatorNames;
    if (!names.length) throw new ConfigError('FaePipeline', 'no generator is loaded');
    const key = name ?? names[0];
    const g = this.generators[key];
    if (!g) throw new ConfigError('FaePipeline', `no generator '${key}' (loaded: ${names.join(', ')})`);
    return g;
  }

  /** Normalised latents [B, h, w, c] for `labels`. */
  generateLatents(o: GenerateOptions): Promise<tf.Tensor4D> {
    if (!o.labels?.length) throw new ConfigError('generate', 'labels must name at least one class');
    const g = this.generator(o.generator);
    for (const l of Array.from(o.labels)) {
      if (!Number.isInteger(l) || l < 0 || (g.numClasses > 0 && l >= g.numClasses)) throw new ConfigError('generate', `label ${l} is outside 0..${g.numClasses - 1}`);
    }
    return g.sample({ labels: o.labels, sampler: o.sampler, steps: o.steps, guidance: o.guidance, shift: o.shift, seed: o.seed, onProgress: o.onProgress });
  }

  /** Images [B, H, W, 3] in [0, 1] of the requested classes. */
  async generate(o: GenerateOptions): Promise<tf.Tensor4D> {
    const latents = await this.generateLatents(o);
    try {
      return this.decode(latents);
    } finally {
      latents.dispose();
    }
  }

  /** The manifest save() writes. */
  manifest(): PipelineManifest {
    return {
      format: PIPELINE_FORMAT, version: 1, preprocessing: this.preprocessing,
      encoder: this.encoderSource ? { source: this.encoderSource } : { folder: 'encoder' },
      adapter: 'adapter', featureDecoder: 'feature-decoder', pixelDecoder: 'pixel-decoder',
      generators: Object.fromEntries(Object.entries(this.generators).map(([k, g]) => [k, { folder: k, defaults: g.defaults }])),
      latentStats: this.latentStats,
      ...(this.classes ? { classes: this.classes } : {}),
      ...(this.trained ? { trained: this.trained } : {}),
    };
  }

  /** Writes every loaded part and pipeline.json into `dir` (a local folder). */
  async save(dir: string): Promise<void> {
    const m = this.manifest();
    if (this.encoder && !this.encoderSource) {
      const model = (this.encoder as { model?: Module }).model;
      if (!model) throw new ConfigError('FaePipeline.save', `the encoder ${this.encoder.name} is not a registered component; give encoderSource (a hub id or folder) instead`);
      await saveModule(dir, 'encoder', model);
    }
    if (this.adapter) {
      this.adapter.setLatentStats({ mean: this.stats.mean, std: this.stats.std } as never);
      await saveModule(dir, m.adapter, this.adapter);
    }
    if (this.featureDecoder) await saveModule(dir, m.featureDecoder, this.featureDecoder);
    if (this.pixelDecoder) await saveModule(dir, m.pixelDecoder, this.pixelDecoder);
    for (const [name, g] of Object.entries(this.generators)) await saveModule(dir, m.generators[name].folder, g.module);
    await writeJson(joinPath(dir, PIPELINE_FILE), m);
  }

  /** Loads a pipeline from a folder, an http(s) URL or a hub id (see the file header). */
  static async load(source: string, opts: LoadPipelineOptions = {}): Promise<FaePipeline> {
    const manifest = (await readSourceJson<PipelineManifest>(source, PIPELINE_FILE, opts, true)) ?? (await legacyManifest(source, opts));
    if (manifest.format !== PIPELINE_FORMAT || manifest.version !== 1) throw new ConfigError(joinPath(source, PIPELINE_FILE), `not a ${PIPELINE_FORMAT} version 1 manifest`);
    const want = new Set<PipelinePart>(opts.parts ?? ['encoder', 'adapter', 'featureDecoder', 'pixelDecoder', 'generators']);
    const parts: FaePipelineParts = { preprocessing: manifest.preprocessing, latentStats: manifest.latentStats, classes: manifest.classes, trained: manifest.trained, generators: {} };
    const loaded: Array<{ dispose(): void }> = [];
    const keep = <T extends { dispose(): void }>(x: T): T => (loaded.push(x), x);
    try {
      if (want.has('encoder')) {
        if ('source' in manifest.encoder) {
          parts.encoder = keep(await loadEncoder(manifest.encoder.source, opts));
          parts.encoderSource = manifest.encoder.source;
        } else parts.encoder = keep(await loadEncoderFolder(source, manifest.encoder.folder, opts));
      } else if ('source' in manifest.encoder) parts.encoderSource = manifest.encoder.source;
      if (want.has('adapter')) parts.adapter = keep(await loadModule<SingleAttentionEncoder>(source, manifest.adapter, opts));
      if (want.has('featureDecoder')) parts.featureDecoder = keep(await loadModule<FeatureDecoder>(source, manifest.featureDecoder, opts));
      if (want.has('pixelDecoder')) parts.pixelDecoder = keep(await loadModule<PixelDecoder>(source, manifest.pixelDecoder, opts));
      if (want.has('generators')) {
        for (const [name, g] of Object.entries(manifest.generators)) {
          if (opts.generators && !opts.generators.includes(name)) continue;
          const module = keep(await loadModule<Module>(source, g.folder, opts));
          parts.generators![name] = toLatentGenerator(module, g.defaults, joinPath(source, g.folder));
        }
        for (const name of opts.generators ?? []) if (!parts.generators![name]) throw new ConfigError(joinPath(source, PIPELINE_FILE), `no generator '${name}' (has: ${Object.keys(manifest.generators).join(', ')})`);
      }
      return new FaePipeline(parts);
    } catch (e) {
      for (const x of loaded) x.dispose();
      throw e;
    }
  }

  dispose(): void {
    this.encoder?.dispose();
    this.adapter?.dispose();
    this.featureDecoder?.dispose();
    this.pixelDecoder?.dispose();
    for (const g of Object.values(this.generators)) g.dispose();
  }
}

/** sampling.json of folders written before pipeline.json (the digits example's checkpoints). */
interface LegacySampling {
  ditSteps?: number;
  ditSampler?: string;
  ditCfg?: number;
  flowGuidance?: number;
  flowNoiseStd?: number;
}

/**
 * The manifest of a models folder without pipeline.json: encoder/ (transformers config), adapter/,
 * feature-decoder/, pixel-decoder/, dit/ and tarflow/ when present, sampling.json, the latent
 * statistics from the adapter's latent_mean / latent_std buffers, preprocessing from the encoder's
 * image_size (a resize to it, mean = std = 0.5: the digits example's [-1, 1] input).
 */
async function legacyManifest(source: string, hub: HubOptions): Promise<PipelineManifest> {
  const missing = (file: string) => new ConfigError(joinPath(source, file), `missing: the models folder has no ${file} (and no ${PIPELINE_FILE}); train it, or give a folder with one sub-folder per component`);
  type SizeJson = { image_size?: number; config?: { image_size?: number; imageSize?: number } };
  const encoderJson = await readSourceJson<SizeJson>(source, 'encoder/config.json', hub, true);
  const pixelJson = encoderJson ? null : await readSourceJson<SizeJson>(source, 'pixel-decoder/config.json', hub, true);
  const adapterJson = await readSourceJson(source, 'adapter/config.json', hub, true);
  if (!adapterJson) throw missing('adapter/config.json');
  // the encoder's input size (FAE component format, or a transformers config.json), else the pixel decoder's output size
  const size = encoderJson?.config?.image_size ?? encoderJson?.image_size ?? pixelJson?.config?.imageSize;
  if (!Number.isInteger(size)) throw new ConfigError(joinPath(source, encoderJson ? 'encoder/config.json' : 'pixel-decoder/config.json'), 'the image size is missing');
  const sampling = (await readSourceJson<LegacySampling>(source, 'sampling.json', hub, true)) ?? {};
  const adapter = await loadModule<SingleAttentionEncoder>(source, 'adapter', hub);
  let latentStats: { mean: number[]; std: number[] };
  try {
    const s = await adapter.latentStats();
    latentStats = { mean: Array.from(s.mean), std: Array.from(s.std) };
  } finally {
    adapter.dispose();
  }
  const generators: PipelineManifest['generators'] = {};
  if (await readSourceJson(source, 'dit/config.json', hub, true)) {
    generators.dit = { folder: 'dit', defaults: { sampler: sampling.ditSampler ?? 'heun', steps: sampling.ditSteps ?? 12, guidance: sampling.ditCfg ?? 1.5 } };
  }
  if (await readSourceJson(source, 'tarflow/config.json', hub, true)) {
    generators.tarflow = { folder: 'tarflow', defaults: { guidance: sampling.flowGuidance ?? 2, noiseStd: sampling.flowNoiseStd ?? 0.05 } };
  }
  return {
    format: PIPELINE_FORMAT, version: 1,
    preprocessing: { imageSize: size!, encoderSize: size!, crop: 'resize', mean: HALF, std: HALF },
    encoder: { folder: 'encoder' }, adapter: 'adapter', featureDecoder: 'feature-decoder', pixelDecoder: 'pixel-decoder',
    generators, latentStats,
  };
}
