// `fae train` step / batch / learning-rate resolution: the defaults are the shipped run's; --batch
// keeps the samples seen and scales the learning rate by the square root of the batch ratio.
import { describe, expect, it } from 'vitest';
import { STAGE_DEFAULTS } from '../src/digits/config.js';
import { stageHyperparameters, type TrainContext } from '../src/pipeline/context.js';

function ctx(o: Partial<TrainContext> = {}): TrainContext {
  return { modelsDir: 'm', workDir: 'w', split: {} as TrainContext['split'], seed: 0, backend: 'cpu', stepScale: 1, quiet: true, log: () => {}, ...o };
}

describe('stageHyperparameters', () => {
  it('gives every stage its default (the shipped run) when nothing is asked', () => {
    for (const stage of Object.keys(STAGE_DEFAULTS) as Array<keyof typeof STAGE_DEFAULTS>) {
      expect(stageHyperparameters(ctx(), stage)).toEqual(STAGE_DEFAULTS[stage]);
    }
    expect(stageHyperparameters(ctx(), 'dit')).toEqual({ steps: 7200, batch: 32, lr: 5e-4 });
  });

  it('--batch n keeps steps x batch and scales lr by sqrt(n / default batch)', () => {
    const dit = stageHyperparameters(ctx({ batch: 256 }), 'dit');
    expect(dit.batch).toBe(256);
    expect(dit.steps).toBe(900); // 7200 x 32 / 256
    expect(dit.lr).toBeCloseTo(5e-4 * Math.sqrt(8), 12);
    const encoder = stageHyperparameters(ctx({ batch: 8 }), 'encoder'); // default batch 16
    expect(encoder.steps).toBe(300);
    expect(encoder.lr).toBeCloseTo(1e-3 * Math.sqrt(0.5), 12);
    expect(stageHyperparameters(ctx({ batch: 4096 }), 'stageII').steps).toBe(2); // 300 x 32 / 4096 = 2.3
    expect(stageHyperparameters(ctx({ batch: 4096, stepScale: 0.01 }), 'stageII').steps).toBe(1); // never 0
  });

  it('takes --steps and --lr as given, and applies FAE_STEP_SCALE to default steps only', () => {
    expect(stageHyperparameters(ctx({ batch: 256, steps: 50, lr: 1e-4 }), 'tarflow')).toEqual({ steps: 50, batch: 256, lr: 1e-4 });
    expect(stageHyperparameters(ctx({ stepScale: 0.1 }), 'tarflow').steps).toBe(360);
    expect(stageHyperparameters(ctx({ stepScale: 0.1, steps: 7 }), 'tarflow').steps).toBe(7);
  });
});

describe('the digits recipe of @fae/pipeline', () => {
  it('is the configuration this example trains (architectures and sampling defaults)', async () => {
    const { DIGITS_RECIPE } = await import('@fae/pipeline');
    const c = await import('../src/digits/config.js');
    const { DIGIT_ENCODER_CONFIG } = await import('../src/models/digit-encoder.js');
    const r = DIGITS_RECIPE;
    expect(r.latentChannels).toBe(c.LATENT_CHANNELS);
    expect(r.limit).toBe(c.TRAIN_DIGITS);
    expect({ ...r.adapter, inputDim: c.FEATURE_DIM, latentChannels: c.LATENT_CHANNELS, gridSize: c.GRID }).toEqual(c.ADAPTER_CONFIG);
    expect({ ...r.featureDecoder, latentChannels: c.LATENT_CHANNELS, outputDim: c.FEATURE_DIM, gridSize: c.GRID }).toEqual(c.FEATURE_DECODER_CONFIG);
    expect({ ...r.pixelDecoder, inputDim: c.FEATURE_DIM, gridSize: c.GRID, imageSize: 28 }).toEqual(c.PIXEL_DECODER_CONFIG);
    expect({ ...r.generators.dit!.config, inputSize: c.GRID, inChannels: c.LATENT_CHANNELS, numClasses: 10 }).toEqual(c.DIT_CONFIG);
    expect({ ...r.generators.tarflow!.config, inChannels: c.LATENT_CHANNELS, imgSize: c.GRID, numClasses: 10 }).toEqual(c.TARFLOW_CONFIG);
    const { fae_pretraining: _, ...encoder } = DIGIT_ENCODER_CONFIG;
    expect(r.encoder.kind === 'mim' && r.encoder.config).toEqual(encoder);
    expect(r.generators.dit!.sampling).toEqual({ sampler: c.DEFAULT_SAMPLING.ditSampler, steps: c.DEFAULT_SAMPLING.ditSteps, guidance: c.DEFAULT_SAMPLING.ditCfg });
    expect(r.generators.tarflow!.sampling).toEqual({ guidance: c.DEFAULT_SAMPLING.flowGuidance, noiseStd: c.DEFAULT_SAMPLING.flowNoiseStd });
  });
});
