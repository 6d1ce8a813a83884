// Whole-model workloads from the model packages (issues #10 GPU, #11 CPU), tfjs side: each entry
// builds its model from the packages' presets (model-shapes.ts says which), with seeded random
// weights, times one call with timeIt and frees everything. An entry that fails throws an error with
// `workload` set, so the benchmark table says what was skipped and why.
import * as tf from '@tensorflow/tfjs-core';
import { AdamW, computeGrads, disposeGrads, withSeededRandom, type Module } from '@fae/core';
import { createBackbone } from '@fae/encoders';
import { FeatureAutoEncoder, FeatureDecoder, PixelDecoder } from '@fae/decoders';
import { LightningDiT, guidedVelocity } from '@fae/diffusion';
import { TarFlow, sample } from '@fae/flow';
import { modelFlops, modelRate } from './model-flops.js';
import { modelShapes, modelSpecs, type ModelSpec, type Shapes, type Target } from './model-shapes.js';
import { oneElement, readAll, readOneElement, runSettled, timeIt, type Timing } from './timing.js';
import { profileGpu, type GpuProfile } from './gpu-profile.js';
import { recordCpuProfile } from './cpu-profile.js';

type Call = () => tf.Tensor | tf.Tensor[] | Promise<tf.Tensor | tf.Tensor[]>;

/** A built workload: the call to time and what to free afterwards. */
export interface Built {
  call: Call;
  dispose: () => void;
  /** The models the call runs (int8-bench.ts quantises their Linears). */
  modules: Module[];
  /** The models' own output where `call` adds to it (the DiT step returns x + v ds; this returns v), for accuracy comparisons. */
  output?: Call;
}

const SEED = 1234;


/** Builds one workload (seeded random weights). */
export function buildWorkload(spec: ModelSpec, sh: Shapes): Built {
  const rnd = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);
  switch (spec.kind) {
    case 'dinov2_encode': {
      const model = withSeededRandom(SEED, () => createBackbone(spec.configJson, spec.label)).eval();
      const px = rnd([spec.batch, spec.image, spec.image, 3], 1); // [B, H, W, 3] preprocessed pixels
      return { call: () => model.features(px), dispose: () => (px.dispose(), model.dispose()), modules: [model] }; // -> [B, h, w, D]
    }
    case 'fae_decode': {
      const fd = withSeededRandom(SEED, () => new FeatureDecoder(spec.featureDecoder)).eval();
      const pd = withSeededRandom(SEED + 1, () => new PixelDecoder(spec.pixelDecoder)).eval();
      const g = spec.featureDecoder.gridSize;
      const z = rnd([spec.batch, g, g, spec.featureDecoder.latentChannels], 2); // [B, h, w, c]
      return { call: () => tf.tidy(() => pd.forward(fd.forward(z))), dispose: () => (z.dispose(), fd.dispose(), pd.dispose()), modules: [fd, pd] }; // -> [B, H, W, 3]
    }
    case 'dit_step': {
      const model = new LightningDiT(spec.config, { seed: SEED });
      const c = spec.config;
      const x = rnd([spec.batch, c.inputSize, c.inputSize, c.inChannels], 3); // [B, h, w, c]
      const labels = tf.tensor1d(Array.from({ length: spec.batch }, (_, i) => i % c.numClasses), 'int32'); // [B]
      const velocity = guidedVelocity(model, labels, { scale: spec.cfgScale }); // one forward at batch 2B
      const [s, sNext] = [0.5, 0.48];
      return {
        call: () => tf.tidy(() => tf.add(x, tf.mul(velocity(x, s, s), sNext - s))), // Euler: [B, h, w, c]
        dispose: () => (tf.dispose([x, labels]), model.dispose()),
        modules: [model],
        output: () => velocity(x, s, s), // guided velocity [B, h, w, c]
      };
    }
    case 'tarflow_sample': {
      const model = new TarFlow({ ...spec.config, seed: SEED });
      const noise = rnd([spec.batch, ...model.latentShape], 4); // [B, h, w, c]
      const classes = model.config.numClasses;
      const labels = Array.from({ length: spec.batch }, (_, i) => i % classes);
      return {
        call: () => sample({ model, labels, noise, guidance: 0, yieldEveryMs: 0 }), // -> [B, h, w, c]
        dispose: () => (noise.dispose(), model.dispose()),
        modules: [model],
      };
    }
    case 'fae_train': {
      const fae = withSeededRandom(SEED, () => new FeatureAutoEncoder(spec.adapter, spec.featureDecoder)).train();
      const params = fae.trainableVariables();
      const last = [...params.values()].at(-1)!;
      const optimizer = new AdamW(params, { lr: spec.lr, betas: [0.9, 0.999], weightDecay: 0 });
      const g = spec.adapter.gridSize;
      const features = rnd([spec.batch, g, g, spec.adapter.inputDim], 5); // cached encoder features [B, h, w, D]
      const beta = Number(sh.beta);
      return {
        call: () => {
          const { loss, grads } = computeGrads(() => {
            const l = fae.loss(features, { beta, sample: true });
            tf.dispose([l.rec, l.kl]);
            return l.loss;
          }, params);
          optimizer.step(grads);
          disposeGrads(grads);
          return [loss, oneElement(last)];
        },
        dispose: () => (features.dispose(), optimizer.dispose(), fae.dispose()),
        modules: [fae],
      };
    }
  }
}

/** Runs one workload: build, time, free; notes a tensor leak if one shows. */
async function runWorkload(spec: ModelSpec, target: Target, profile: boolean, cpuProfileDir?: string): Promise<Timing & { profile?: GpuProfile }> {
  const sh = modelShapes(spec);
  const flops = modelFlops(sh);
  const { items, unit } = modelRate(sh);
  const before = tf.memory().numTensors;
  let built: Built | null = null;
  try {
    const t0 = performance.now();
    built = buildWorkload(spec, sh);
    const buildMs = performance.now() - t0;
    const settle = target === 'gpu' ? readOneElement : readAll;
    const r = await timeIt(sh.name, built.call, { warmup: spec.warmup, iters: spec.iters, flops, settle });
    const call = built.call;
    // --cpu-profile: the main thread's CPU over three more calls (cpu-profile.ts)
    if (cpuProfileDir) await recordCpuProfile(cpuProfileDir, sh.name, () => runSettled(call, settle));
    // --profile (GPU): per-kernel GPU time of one more call (gpu-profile.ts)
    const prof = profile ? await profileGpu(() => runSettled(call, settle)) : undefined;
    return { ...r, ...(prof ? { profile: prof } : {}), rate: (items * 1000) / r.ms, unit, params: sh.params, iters: spec.iters, note: `built in ${(buildMs / 1000).toFixed(1)} s` };
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    (err as Error & { workload?: string }).workload = sh.name;
    throw err;
  } finally {
    built?.dispose();
    const leaked = tf.memory().numTensors - before;
    if (leaked !== 0) console.error(`[bench] ${sh.name}: ${leaked} tensor(s) left after dispose`);
  }
}

/**
 * The model workloads of a target ('gpu': issue #10, 'cpu': issue #11); `quick`: tiny configs, batch 1;
 * `only`: those whose name contains it; `profile` (gpu): a per-kernel GPU profile of one more call.
 */
export function modelBenchmarks(opts: { gpu?: boolean; quick?: boolean; only?: string; skip?: string; profile?: boolean; cpuProfileDir?: string } = {}): Array<() => Promise<Timing & { profile?: GpuProfile }>> {
  const target: Target = opts.gpu ? 'gpu' : 'cpu';
  const specs = modelSpecs(target, opts.quick ? 'quick' : 'full').filter((spec) => (!opts.only || modelShapes(spec).name.includes(opts.only)) && (!opts.skip || !modelShapes(spec).name.includes(opts.skip)));
  return specs.map((spec) => () => runWorkload(spec, target, !!opts.profile && target === 'gpu', opts.cpuProfileDir));
}
