// `fae train all --data ... --recipe ...` and `fae eval --data ...`: the CLI over @fae/pipeline's
// trainPipeline and evaluatePipeline (progress bars on stderr, JSON on stdout).
import { FaePipeline, evaluatePipeline, getRecipe, openDataset, scaleRecipe, trainPipeline, withEncoder, type TrainStageName } from '@fae/pipeline';
import { UsageError } from '../errors.js';
import { ProgressBar } from '../progress.js';
import type { Env } from './env.js';

/** One progress bar per stage (or evaluation part), replaced when the next one starts. */
function barsFor(env: Env) {
  let current: ProgressBar | null = null;
  let label = '';
  return {
    update(what: string, done: number, total: number, loss?: number) {
      if (what !== label) {
        current?.done();
        current = new ProgressBar(what, total, { silent: env.p.global.quiet });
        label = what;
      }
      current!.update(done, loss === undefined ? {} : { loss });
    },
    done() {
      current?.done();
      current = null;
      label = '';
    },
  };
}

const STAGE_LABEL: Record<TrainStageName, string> = {
  encoder: 'encoder (MIM pretraining)', features: 'feature cache', 'stage-ib': 'stage Ib (adapter + feature decoder)',
  'stage-ia': 'stage Ia (pixel decoder, noisy features)', 'stage-ii': "stage II (pixel decoder on x^)", latents: 'latent cache',
  dit: 'LightningDiT', tarflow: 'TARFlow',
};

/** `fae train all --recipe r [--data d] [--encoder e] --models dir`. */
export async function trainOnData(env: Env, modelsDir: string) {
  const o = env.p.options;
  let recipe;
  try {
    recipe = getRecipe(o.recipe!);
  } catch (e) {
    throw new UsageError((e as Error).message, 'train');
  }
  if (o.encoder) recipe = withEncoder(recipe, o.encoder);
  // --batch n keeps the samples each stage sees (steps x batch / n, lr x sqrt(n / batch)); --step-scale multiplies steps
  if (o.batch || o.stepScale) recipe = scaleRecipe(recipe, { batch: o.batch, steps: o.stepScale });
  const spec = o.data ?? (recipe.name === 'digits' ? 'mnist:train' : undefined);
  if (!spec) throw new UsageError(`--data <image folder | tar shards | mnist> is required for recipe '${recipe.name}'`, 'train');
  const dataset = await openDataset(spec);
  env.log(`recipe ${recipe.name}: ${recipe.description}`);
  env.log(`data: ${dataset.name} (${dataset.size} images, ${dataset.classes.length} classes)`);
  if (recipe.encoder.kind === 'pretrained') env.log(`encoder: ${recipe.encoder.source} (frozen, input ${recipe.encoder.encoderSize}x${recipe.encoder.encoderSize})`);
  const bars = barsFor(env);
  const r = await trainPipeline(recipe, dataset, modelsDir, {
    restart: o.restart, lpipsWeights: o.lpips, log: (line) => {
      bars.done();
      env.log(line);
    },
    onProgress: (e) => bars.update(STAGE_LABEL[e.stage], e.done, e.total, e.loss),
  });
  bars.done();
  return {
    models: modelsDir, recipe: recipe.name, data: dataset.name, images: r.state.dataset.size, classes: dataset.classes,
    stages: r.state.logs.map((l) => ({ stage: l.stage, seconds: Number(l.seconds.toFixed(1)), steps: l.steps, batch: l.batch, lr: l.lr, finalLoss: l.losses?.at(-1)?.[1] })),
    seconds: Number(r.seconds.toFixed(1)),
  };
}

/** `fae eval --models dir --data d`: reconstruction, latent and generation metrics on a dataset. */
export async function evaluateOnData(env: Env, source: string) {
  const o = env.p.options;
  const t0 = Date.now();
  const pipe = await FaePipeline.load(source);
  try {
    const dataset = await openDataset(o.data!);
    const bars = barsFor(env);
    const metrics = await evaluatePipeline(pipe, dataset, {
      maxImages: o.images, perClass: o.perClass, seed: env.p.global.seed + 1000,
      onProgress: (what, done, total) => bars.update(`eval: ${what}`, done, total),
    });
    bars.done();
    return { command: `fae ${process.argv.slice(2).join(' ')}`, backend: env.backend, models: source, ...metrics, seconds: Number(((Date.now() - t0) / 1000).toFixed(1)) };
  } finally {
    pipe.dispose();
  }
}
