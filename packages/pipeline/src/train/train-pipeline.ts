// trainPipeline(recipe, dataset, dir): the whole FAE and its generators from a dataset, resumable.
//
//   encoder   frozen pretrained encoder (referenced, not copied), or the recipe's own MIM-pretrained one
//   features  the encoder over every image once -> <dir>/work/features (sharded, resumable cache)
//   stage-ib  adapter + feature decoder on cached features (L2 + beta KL), then the latent statistics
//   stage-ia  pixel decoder on cached features + noise        } with the recipe's pixelObjective (L2 / L1 +
//   stage-ii  pixel decoder on the FAE's reconstructions x^   } LPIPS + adaptive GAN; see ./pixel-objective.ts)
//   latents   normalised latents of every image -> <dir>/work/latents (sharded, resumable cache)
//   dit, tarflow  the generators, streaming the latent cache
// then <dir>/pipeline.json: FaePipeline.load(dir) opens the result.
//
// <dir>/train-state.json records the recipe and the finished stages. Run it again after an
// interruption and it skips the finished stages and continues the interrupted one from its last
// checkpoint (every ~1/20 of a stage, <dir>/work/checkpoints/<stage>) or cache shard. A different
// recipe or dataset in the same folder is refused unless `restart` is set. A GAN objective's
// discriminator is a module of its stage's checkpoints (resumed with the decoder); each pixel stage
// starts its own (seeded) discriminator, since the preset's GAN starts are fractions of that stage.
import * as tf from '@tensorflow/tfjs-core';
import { AdamW, ConfigError, Rng, Trainer, cosineSchedule, withSeededRandom, type DataSource, type HubOptions, type TrainerReplicas } from '@fae/core';
import { computeLatentStats, type SingleAttentionEncoder } from '@fae/adapter';
import { FeatureAutoEncoder, FeatureCache, PixelDecoder, trainStageIa, trainStageIb, trainStageII, type FeatureDecoder, type PerceptualLoss } from '@fae/decoders';
import type { Lpips } from '@fae/eval';
import { DiffusionTrainer, LightningDiT, type LatentBatch } from '@fae/diffusion';
import { Dinov2Model, loadEncoder, parseDinov2Config, type FeatureEncoder } from '@fae/encoders';
import { TarFlow, createFlowTrainer, type FlowBatch } from '@fae/flow';
import { buildCache } from '../cache.js';
import { joinPath, loadEncoderFolder, loadModule, saveModule, writeJson } from '../components.js';
import { imageBatches, imageDataSource, type ImageDataset, takeItems } from '../datasets/dataset.js';
import { PIPELINE_FILE, PIPELINE_FORMAT, type PipelineManifest } from '../fae-pipeline.js';
import type { GeneratorDefaults } from '../generator.js';
import { toEncoderPixels, type PipelinePreprocessing } from '../preprocess.js';
import { checkRecipe, type PipelineRecipe, type StageSpec } from '../recipes/recipe.js';
import { MimHead, MimPretraining, mimLoss, randomPatchMask } from './mim.js';
import { nodeFsPromises, readJsonOrNull, sameJson } from '../node-fs.js';
import { MissingPerceptualLossError, buildPixelObjective, describeObjective, loadLpips, needsPerceptual, presetOf, usesPerceptual, type LpipsWeightsSource } from './pixel-objective.js';

export const TRAIN_STAGES = ['encoder', 'features', 'stage-ib', 'stage-ia', 'stage-ii', 'latents', 'dit', 'tarflow'] as const;
export type TrainStageName = (typeof TRAIN_STAGES)[number];

export interface TrainEvent {
  stage: TrainStageName;
  /** Optimizer steps (training) or items (caches) done, of `total`. */
  done: number;
  total: number;
  loss?: number;
}

export interface TrainPipelineOptions {
  onProgress?: (e: TrainEvent) => void;
  /** One line per stage start / end. */
  log?: (line: string) => void;
  /** Start afresh in a folder that holds another run (default false: refuse). */
  restart?: boolean;
  /** Keep <dir>/work (caches, checkpoints) when done (default false). */
  keepWork?: boolean;
  /** Hub options for a pretrained encoder (cache, token, progress). */
  hub?: HubOptions;
  /** Images per encoder / adapter pass while caching (default 32). */
  cacheBatch?: number;
  /**
   * LPIPS-VGG16 for a pixel objective with a perceptual term (the paper recipes): a folder holding
   * vgg16.safetensors | vgg16-397923af.pth (torchvision) and vgg.pth | lpips_vgg_v0.1.safetensors (lpips
   * v0.1), or `{ backbone, linear }` files / http(s) URLs / hub org/name/file (fetched through `hub`).
   * Loaded before any stage trains; absent or unreadable -> MissingPerceptualLossError.
   */
  lpipsWeights?: LpipsWeightsSource;
  /** A ready perceptual loss on [-1, 1] images instead (an Lpips, or any function); the caller keeps ownership. */
  perceptual?: Lpips | PerceptualLoss;
  /**
   * Data-parallel training: this process is replica `rank` of `size` (e.g. a ReplicaGroup in a process
   * forked by startReplicas, one per GPU), every replica calls trainPipeline with the same arguments.
   * Each training stage's batch (the recipe's) is split over the replicas and the gradients averaged
   * every step; rank 0 alone builds the caches and writes checkpoints, modules and the state, the
   * others wait for it (barrier). See ./data-parallel.ts for what equals a single-process run.
   */
  replicas?: TrainerReplicas & { barrier(): Promise<void> };
}

export interface StageLog {
  stage: TrainStageName;
  seconds: number;
  steps?: number;
  batch?: number;
  lr?: number;
  /** [step, loss] every ~1/50 of the run, and the last. */
  losses?: Array<[number, number]>;
  /** Pixel stages: the objective that ran, e.g. "fae-paper: 1 x l1 + 1 x perceptual + 0.75 x adaptive GAN from step 450000 (D from 337500)". */
  objective?: string;
  /** Pixel stages: the last step's loss terms (rec, perceptual, gan, ganWeight, disc). */
  parts?: Record<string, number>;
}

export interface TrainState {
  format: 'fae-train-state';
  recipe: PipelineRecipe;
  dataset: { name: string; size: number; classes: string[] };
  done: TrainStageName[];
  logs: StageLog[];
  latentStats?: { mean: number[]; std: number[] };
}

export interface TrainPipelineResult {
  dir: string;
  state: TrainState;
  seconds: number;
}

const STATE_FILE = 'train-state.json';

function preprocessingOf(r: PipelineRecipe): PipelinePreprocessing {
  const e = r.encoder;
  return {
    imageSize: r.image.size, encoderSize: e.kind === 'pretrained' ? e.encoderSize : r.image.size,
    crop: r.image.crop, mean: e.mean, std: e.std,
  };
}

function subsample(losses: number[], offset = 0): Array<[number, number]> {
  const every = Math.max(1, Math.ceil(losses.length / 50));
  return losses.flatMap((l, i) => ((i + 1) % every === 0 || i === losses.length - 1 ? [[offset + i + 1, Number(l.toPrecision(5))] as [number, number]] : []));
}

/** Checkpoints about 20 times a stage. */
const every = (steps: number) => Math.max(1, Math.ceil(steps / 20));

export async function trainPipeline(recipeIn: PipelineRecipe, datasetIn: ImageDataset, dir: string, o: TrainPipelineOptions = {}): Promise<TrainPipelineResult> {
  const recipe = checkRecipe(recipeIn);
  const dataset = recipe.limit !== undefined ? takeItems(datasetIn, recipe.limit) : datasetIn;
  const fs = await nodeFsPromises(dir);
  await fs.mkdir(dir, { recursive: true });
  const work = joinPath(dir, 'work');
  const statePath = joinPath(dir, STATE_FILE);
  const t0 = Date.now();
  const log = o.log ?? (() => {});
  const replicas = o.replicas && o.replicas.size > 1 ? o.replicas : undefined;
  const lead = (replicas?.rank ?? 0) === 0; // writes every file
  const barrier = async () => replicas?.barrier();
  const fresh: TrainState = { format: 'fae-train-state', recipe, dataset: { name: dataset.name, size: dataset.size, classes: dataset.classes }, done: [], logs: [] };
  let state = fresh;
  const saved = await readJsonOrNull<TrainState>(statePath);
  if (saved) {
    if (sameJson(saved.recipe, recipe) && sameJson(saved.dataset, fresh.dataset)) state = saved;
    else if (!o.restart) throw new ConfigError(statePath, `holds a run of recipe '${saved.recipe?.name}' on ${saved.dataset?.name} (${saved.dataset?.size} items); this one is '${recipe.name}' on ${dataset.name} (${dataset.size}): use another folder, or restart`);
    else if (lead) await fs.rm(work, { recursive: true, force: true });
  }
  const saveState = async () => {
    if (lead) await writeJson(statePath, state);
  };
  // the perceptual loss first: a paper recipe without LPIPS weights fails here, before anything trains
  const pixelStagesLeft = !state.done.includes('stage-ia') || !state.done.includes('stage-ii');
  let perceptual: PerceptualLoss | null = null;
  let ownedLpips: Lpips | null = null;
  if (pixelStagesLeft && usesPerceptual(recipe)) {
    if (o.perceptual) perceptual = typeof o.perceptual === 'function' ? o.perceptual : ((lp: Lpips) => (a: tf.Tensor, b: tf.Tensor) => lp.loss(a, b))(o.perceptual);
    else if (o.lpipsWeights !== undefined) {
      ownedLpips = await loadLpips(o.lpipsWeights, recipe, o.hub);
      const lp = ownedLpips;
      perceptual = (a, b) => lp.loss(a, b);
    } else if (needsPerceptual(recipe)) {
      throw new MissingPerceptualLossError(recipe.name, recipe.pixelObjective.preset, presetOf(recipe.pixelObjective, recipe.name).perceptualWeight, 'neither lpipsWeights nor perceptual was given');
    }
  }
  await saveState();
  await barrier(); // every replica has read the state rank 0 may have just replaced
  const p = preprocessingOf(recipe);
  const classes = dataset.classes.length;
  const progress = (stage: TrainStageName) => (done: number, total: number, loss?: number) => o.onProgress?.({ stage, done, total, loss });

  let encoder: FeatureEncoder | null = null;
  const getEncoder = async () => {
    if (encoder) return encoder;
    const e = recipe.encoder;
    encoder = e.kind === 'pretrained' ? await loadEncoder(e.source, o.hub) : await loadEncoderFolder(dir, 'encoder');
    return encoder;
  };
  let features: FeatureCache | null = null;
  const getFeatures = async () => (features ??= await cacheFeatures());
  const ckpt = (stage: string, steps: number) => ({ dir: joinPath(joinPath(work, 'checkpoints'), stage), every: every(steps) });

  // ---------------------------------------------------------------------------------------------
  /** Rank 0 builds a cache, the other replicas wait for it and open it. */
  const leadBuilds = async (folder: string, build: () => Promise<FeatureCache>): Promise<FeatureCache> => {
    const cache = lead ? await build() : null;
    await barrier();
    return cache ?? FeatureCache.open(folder);
  };
  const cacheFeatures = (): Promise<FeatureCache> => leadBuilds(joinPath(work, 'features'), async () => {
    const enc = await getEncoder();
    const bs = o.cacheBatch ?? 32;
    return buildCache(joinPath(work, 'features'), (skip) => (async function* () {
      for await (const b of imageBatches(dataset, { batchSize: bs, shuffle: false, skip, transform: { imageSize: p.imageSize, crop: recipe.image.crop } })) {
        const f = tf.tidy(() => enc.features(toEncoderPixels(b.images, p)));
        yield { features: f, labels: b.labels, images: b.images };
      }
    })(), { shardSize: recipe.cache.shardSize, dtype: recipe.cache.dtype, total: dataset.size, onProgress: progress('features'), meta: { what: 'features', encoder: recipe.encoder, preprocessing: p, dataset: state.dataset } });
  });

  const loadFae = async () => new FeatureAutoEncoder(await loadModule<SingleAttentionEncoder>(dir, 'adapter'), await loadModule<FeatureDecoder>(dir, 'feature-decoder'));

  const trainMimEncoder = async (): Promise<StageLog> => {
    const e = recipe.encoder;
    if (e.kind !== 'mim') {
      log(`  encoder: ${e.source} (pretrained, frozen; referenced by pipeline.json)`);
      return { stage: 'encoder', seconds: 0 };
    }
    const s = e.train;
    const model = withSeededRandom(recipe.seed + 10, () => new Dinov2Model(parseDinov2Config(e.config, `recipe ${recipe.name} encoder`)));
    const head = new MimHead(model.config.hiddenSize, model.config.patchSize, recipe.seed + 11);
    const both = new MimPretraining(model, head);
    const optimizer = new AdamW(both.trainableVariables(), { lr: s.lr, weightDecay: s.weightDecay ?? 0.05 });
    const tokens = (e.config.image_size as number / model.config.patchSize) ** 2;
    const data = imageDataSource(dataset, { batchSize: s.batch, seed: recipe.seed + 12, transform: { imageSize: p.imageSize, crop: recipe.image.crop, flip: recipe.image.flip } });
    try {
      both.train();
      const trainer = new Trainer({
        modules: { mim: both }, optimizer, steps: s.steps, clipNorm: s.clipNorm, rng: new Rng(recipe.seed + 13),
        schedule: cosineSchedule({ lr: s.lr, warmupSteps: s.warmup ?? Math.min(100, Math.floor(s.steps / 10)), totalSteps: s.steps, minLr: s.lr * 0.05 }),
        data, checkpoint: ckpt('encoder', s.steps), replicas,
        lossFn: (b, rng) => tf.tidy(() => mimLoss(model, head, toEncoderPixels(b.images, p), randomPatchMask(rng, b.labels.length, tokens, s.maskRatio))),
        onProgress: (ev) => progress('encoder')(ev.step, s.steps, ev.loss),
      });
      const at = await trainer.resume();
      const r = await trainer.run();
      both.eval();
      if (lead) await saveModule(dir, 'encoder', model, { pretraining: `SimMIM, mask ratio ${s.maskRatio}, ${s.steps} x ${s.batch}` });
      return { stage: 'encoder', seconds: 0, steps: s.steps, batch: s.batch, lr: s.lr, losses: subsample(r.losses, at) };
    } finally {
      optimizer.dispose();
      both.dispose();
    }
  };

  const stageIb = async (): Promise<StageLog> => {
    const cache = await getFeatures();
    const s = recipe.stages.ib;
    const [h, , d] = cache.index.featureShape;
    const fae = withSeededRandom(recipe.seed + 2, () => new FeatureAutoEncoder(
      { ...recipe.adapter, inputDim: d, gridSize: h, latentChannels: recipe.latentChannels },
      { ...recipe.featureDecoder, latentChannels: recipe.latentChannels, outputDim: d, gridSize: h },
    ));
    try {
      const r = await trainStageIb({
        fae, steps: s.steps, data: cache.dataSource({ batchSize: Math.min(s.batch, cache.count), seed: recipe.seed + 3, images: false }), lr: s.lr,
        warmupSteps: s.warmup, seed: recipe.seed + 3, clipNorm: s.clipNorm, loss: { beta: s.beta }, checkpoint: ckpt('stage-ib', s.steps), replicas,
        onProgress: (ev) => progress('stage-ib')(ev.step, s.steps, ev.loss),
      });
      r.dispose();
      fae.eval();
      const losses = subsample(r.losses, r.step - r.losses.length);
      if (!lead) return { stage: 'stage-ib', seconds: 0, steps: s.steps, batch: s.batch, lr: s.lr, losses };
      const stats = await computeLatentStats(fae.encoder, (async function* () {
        for await (const b of cache.batches({ batchSize: 256, images: false })) {
          try {
            yield b.features;
          } finally {
            tf.dispose([b.features, b.labels].filter(Boolean) as tf.Tensor[]);
          }
        }
      })());
      fae.encoder.setLatentStats(stats);
      state.latentStats = { mean: Array.from(stats.mean), std: Array.from(stats.std) };
      await saveModule(dir, 'adapter', fae.encoder);
      await saveModule(dir, 'feature-decoder', fae.decoder);
      return { stage: 'stage-ib', seconds: 0, steps: s.steps, batch: s.batch, lr: s.lr, losses };
    } finally {
      fae.dispose();
    }
  };

  const pixelStage = async (stage: 'stage-ia' | 'stage-ii'): Promise<StageLog> => {
    const cache = await getFeatures();
    const s = stage === 'stage-ia' ? recipe.stages.ia : recipe.stages.ii;
    const [h, , d] = cache.index.featureShape;
    const decoder = stage === 'stage-ia'
      ? withSeededRandom(recipe.seed + 4, () => new PixelDecoder({ ...recipe.pixelDecoder, inputDim: d, gridSize: h, imageSize: p.imageSize }))
      : await loadModule<PixelDecoder>(dir, 'pixel-decoder');
    const fae = stage === 'stage-ii' ? await loadFae() : null;
    fae?.eval().freeze();
    let objective: ReturnType<typeof buildPixelObjective> | null = null;
    try {
      objective = buildPixelObjective(decoder, recipe, s.steps, recipe.seed + (stage === 'stage-ia' ? 7 : 8), perceptual);
      let parts: Record<string, number> = {};
      const common = {
        decoder, steps: s.steps, data: cache.dataSource({ batchSize: Math.min(s.batch, cache.count), seed: recipe.seed + (stage === 'stage-ia' ? 4 : 5), images: true }),
        lr: s.lr, warmupSteps: s.warmup, seed: recipe.seed + 6, clipNorm: s.clipNorm, objective,
        checkpoint: ckpt(stage, s.steps), replicas, onProgress: (ev: { step: number; loss: number; parts: Record<string, number> }) => {
          parts = ev.parts;
          return progress(stage)(ev.step, s.steps, ev.loss);
        },
      };
      const r = stage === 'stage-ia' ? await trainStageIa(common) : await trainStageII({ ...common, fae: fae! });
      r.dispose();
      decoder.eval();
      if (lead) await saveModule(dir, 'pixel-decoder', decoder);
      return { stage, seconds: 0, steps: s.steps, batch: s.batch, lr: s.lr, losses: subsample(r.losses, r.step - r.losses.length), objective: describeObjective(objective, recipe.pixelObjective.preset), parts };
    } finally {
      objective?.dispose();
      decoder.dispose();
      fae?.dispose();
    }
  };

  let latents: FeatureCache | null = null;
  const getLatents = async () => {
    if (latents) return latents;
    const cache = await getFeatures();
    latents = await leadBuilds(joinPath(work, 'latents'), () => buildLatents(cache));
    return latents;
  };
  const buildLatents = async (cache: FeatureCache): Promise<FeatureCache> => {
    const fae = await loadFae();
    fae.eval();
    try {
      return await buildCache(joinPath(work, 'latents'), (skip) => (async function* () {
        const src = cache.dataSource({ batchSize: o.cacheBatch ?? 32, shuffle: false, dropLast: false, images: false });
        const bs = o.cacheBatch ?? 32;
        if (skip % bs) throw new ConfigError('latent cache', `resume point ${skip} is not a multiple of the batch ${bs}`);
        for (let i = skip / bs; i < src.batchesPerEpoch!; i++) {
          const b = await src.batch(0, i);
          const z = fae.encode(b.features);
          const labels = await b.labels!.data();
          tf.dispose([b.features, b.labels!]);
          yield { features: z, labels };
        }
      })(), { shardSize: recipe.cache.shardSize, dtype: 'F32', total: cache.count, onProgress: progress('latents'), meta: { what: 'latents', features: cache.index.meta, stats: state.latentStats } });
    } finally {
      fae.dispose();
    }
  };

  const latentSource = <B>(cache: FeatureCache, batch: number, seed: number, map: (z: tf.Tensor, y: tf.Tensor) => B): DataSource<B> => {
    const src = cache.dataSource({ batchSize: Math.min(batch, cache.count), seed, images: false });
    return { batchesPerEpoch: src.batchesPerEpoch, batch: async (e, i) => {
      const b = await src.batch(e, i);
      return map(b.features, b.labels!);
    } };
  };

  const trainDiT = async (): Promise<StageLog> => {
    const g = recipe.generators.dit!;
    const cache = await getLatents();
    const [h, , c] = cache.index.featureShape;
    const config = { ...g.config, inputSize: h, inChannels: c, numClasses: classes };
    const model = new LightningDiT(config, { seed: recipe.seed + 21 });
    const evalModel = new LightningDiT(config, { seed: recipe.seed + 21 });
    const s = g.train;
    const trainer = new DiffusionTrainer({
      model, steps: s.steps, lr: s.lr, emaDecay: s.emaDecay ?? Math.min(0.999, Math.max(0.98, 1 - 20 / s.steps)), clipNorm: s.clipNorm ?? 1, seed: recipe.seed + 22,
      data: latentSource<LatentBatch>(cache, s.batch, recipe.seed + 23, (latents, labels) => ({ latents, labels })),
      checkpoint: ckpt('dit', s.steps), replicas, onProgress: (ev) => progress('dit')(ev.step, s.steps, ev.loss),
    });
    try {
      const at = await trainer.resume();
      const r = await trainer.run();
      trainer.copyEmaTo(evalModel);
      if (lead) await saveModule(dir, 'dit', evalModel);
      return { stage: 'dit', seconds: 0, steps: s.steps, batch: s.batch, lr: s.lr, losses: subsample(r.losses, at) };
    } finally {
      trainer.dispose();
      model.dispose();
      evalModel.dispose();
    }
  };

  const trainTarFlow = async (): Promise<StageLog> => {
    const g = recipe.generators.tarflow!;
    const cache = await getLatents();
    const [h, , c] = cache.index.featureShape;
    const s = g.train;
    const model = new TarFlow({ ...g.config, inChannels: c, imgSize: h, numClasses: classes, seed: recipe.seed + 31 });
    const { trainer, optimizer } = createFlowTrainer({
      model, steps: s.steps, lr: s.lr, warmupSteps: s.warmup ?? 0, clipNorm: s.clipNorm, seed: recipe.seed + 33, noiseStd: s.noiseStd, dropLabel: s.labelDropout,
      data: latentSource<FlowBatch>(cache, s.batch, recipe.seed + 32, (latents, labels) => ({ latents, labels })),
      checkpoint: ckpt('tarflow', s.steps), replicas, onProgress: (ev) => progress('tarflow')(ev.step, s.steps, ev.loss),
    });
    try {
      const at = await trainer.resume();
      const r = await trainer.run();
      model.eval();
      if (lead) await saveModule(dir, 'tarflow', model);
      return { stage: 'tarflow', seconds: 0, steps: s.steps, batch: s.batch, lr: s.lr, losses: subsample(r.losses, at) };
    } finally {
      optimizer.dispose();
      model.dispose();
    }
  };

  // ---------------------------------------------------------------------------------------------
  const run: Record<TrainStageName, () => Promise<StageLog>> = {
    encoder: trainMimEncoder,
    features: async () => ({ stage: 'features', seconds: 0, steps: (await getFeatures()).count }),
    'stage-ib': stageIb,
    'stage-ia': () => pixelStage('stage-ia'),
    'stage-ii': () => pixelStage('stage-ii'),
    latents: async () => ({ stage: 'latents', seconds: 0, steps: (await getLatents()).count }),
    dit: trainDiT,
    tarflow: trainTarFlow,
  };
  try {
    for (const stage of TRAIN_STAGES) {
      if (state.done.includes(stage)) continue;
      if ((stage === 'dit' || stage === 'tarflow') && !recipe.generators[stage]) continue;
      log(`[train] ${stage}`);
      const ts = Date.now();
      const entry = await run[stage]();
      entry.seconds = (Date.now() - ts) / 1000;
      log(`[train] ${stage} done in ${entry.seconds.toFixed(1)} s`);
      state.logs.push(entry);
      state.done.push(stage);
      await saveState();
      await barrier(); // the next stage may read what rank 0 just wrote
    }
  } finally {
    (encoder as FeatureEncoder | null)?.dispose();
    (ownedLpips as Lpips | null)?.dispose();
  }
  const generators: PipelineManifest['generators'] = {};
  for (const name of ['dit', 'tarflow'] as const) {
    const g = recipe.generators[name];
    if (g) generators[name] = { folder: name, defaults: g.sampling as GeneratorDefaults };
  }
  const manifest: PipelineManifest = {
    format: PIPELINE_FORMAT, version: 1, preprocessing: p,
    encoder: recipe.encoder.kind === 'pretrained' ? { source: recipe.encoder.source } : { folder: 'encoder' },
    adapter: 'adapter', featureDecoder: 'feature-decoder', pixelDecoder: 'pixel-decoder', generators,
    latentStats: state.latentStats!, classes: dataset.classes,
    trained: { recipe: recipe.name, dataset: dataset.name, items: dataset.size, seconds: state.logs.reduce((s, l) => s + l.seconds, 0) },
  };
  if (lead) {
    await writeJson(joinPath(dir, PIPELINE_FILE), manifest);
    if (!o.keepWork) await fs.rm(work, { recursive: true, force: true });
  }
  return { dir, state, seconds: (Date.now() - t0) / 1000 };
}

export type { StageSpec };
