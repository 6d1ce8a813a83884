// LatentGenerator: the one interface the pipeline (and every app) uses to draw latents, whatever the
// generator is. LightningDiT (flow matching, @fae/diffusion) and TarFlow (normalizing flow,
// @fae/flow) each get a small adapter here (the model packages do not depend on each other), so no
// caller branches on the kind of generator.
//
//   labels [B] -> generator.sample(...) -> normalised latents [B, h, w, c] (NHWC)
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, type Module } from '@fae/core';
import { LightningDiT, sample as sampleDiT } from '@fae/diffusion';
import { TarFlow, sample as sampleFlow } from '@fae/flow';

export interface GenerateProgress {
  step: number;
  steps: number;
}

export interface LatentSampleOptions {
  /** Class per sample [B]. */
  labels: ArrayLike<number>;
  /** Sampler name (diffusion: 'euler' | 'heun' | 'euler-maruyama'; ignored by flows). */
  sampler?: string;
  /** Integration steps (diffusion; ignored by flows, whose step count is fixed). */
  steps?: number;
  /**
   * Guidance strength in the generator's own convention (default: its sampling defaults): a diffusion
   * model's classifier-free guidance scale (1 = none), a flow's guidance weight w (0 = none).
   */
  guidance?: number;
  /** Timestep shift (diffusion; SD3 form, 1 = none). */
  shift?: number;
  seed?: number;
  onProgress?: (p: GenerateProgress) => void;
}

/** Sampling defaults a generator carries (the pipeline's sampling.json). */
export interface GeneratorDefaults {
  sampler?: string;
  steps?: number;
  guidance?: number;
  shift?: number;
  /** TarFlow: std of the noise augmentation it was trained with (STARFlow's denoising step). */
  noiseStd?: number;
}

export interface LatentGenerator {
  /** 'lightningdit', 'tarflow', ... (for logs and config files only: callers never branch on it). */
  readonly kind: string;
  /** [h, w, c] of the latents it draws. */
  readonly latentShape: [number, number, number];
  readonly numClasses: number;
  readonly defaults: GeneratorDefaults;
  /** The trainable module (weights, saving). */
  readonly module: Module;
  /** Normalised latents [B, h, w, c] for `labels`. */
  sample(opts: LatentSampleOptions): Promise<tf.Tensor4D>;
  dispose(): void;
}

/** What the two adapters share: a generator module that knows its latent shape and class count. */
abstract class ModuleGenerator<M extends LightningDiT | TarFlow> implements LatentGenerator {
  abstract readonly kind: string;
  constructor(readonly model: M, readonly defaults: GeneratorDefaults = {}) {}
  get module(): Module {
    return this.model;
  }
  get latentShape(): [number, number, number] {
    return this.model.latentShape;
  }
  get numClasses(): number {
    return this.model.config.numClasses;
  }
  abstract sample(opts: LatentSampleOptions): Promise<tf.Tensor4D>;
  dispose(): void {
    this.model.dispose();
  }
}

/** LightningDiT as a LatentGenerator: flow-matching ODE/SDE sampling with classifier-free guidance. */
export class DiTGenerator extends ModuleGenerator<LightningDiT> {
  readonly kind = 'lightningdit';
  async sample(o: LatentSampleOptions): Promise<tf.Tensor4D> {
    const scale = o.guidance ?? this.defaults.guidance ?? 1;
    return (await sampleDiT({
      model: this.model, labels: o.labels, steps: o.steps ?? this.defaults.steps ?? 50,
      sampler: (o.sampler ?? this.defaults.sampler ?? 'euler') as 'euler', seed: o.seed ?? 0,
      guidance: scale !== 1 ? { scale } : null, shift: o.shift ?? this.defaults.shift,
      onProgress: o.onProgress ? (s) => o.onProgress!({ step: s.step, steps: s.steps }) : undefined,
    })) as tf.Tensor4D;
  }
}

/**
 * TarFlow as a LatentGenerator: inverse flow token by token; `guidance` is the flow's guidance weight
 * (upstream TARFlow's w, 0 = none), with STARFlow's score-based denoising step when it was trained
 * on noise-augmented latents.
 */
export class FlowGenerator extends ModuleGenerator<TarFlow> {
  readonly kind = 'tarflow';
  async sample(o: LatentSampleOptions): Promise<tf.Tensor4D> {
    const noiseStd = this.defaults.noiseStd ?? 0;
    return (await sampleFlow({
      model: this.model, labels: Array.from(o.labels), seed: o.seed ?? 0, guidance: o.guidance ?? this.defaults.guidance ?? 0,
      denoise: noiseStd > 0 ? { noiseStd } : undefined,
      onProgress: o.onProgress ? (e) => o.onProgress!({ step: e.step, steps: e.steps }) : undefined,
    })) as tf.Tensor4D;
  }
}

/** Wraps a generator module of a known class (LightningDiT, TarFlow) in its LatentGenerator. */
export function toLatentGenerator(module: Module, defaults: GeneratorDefaults = {}, name = 'generator'): LatentGenerator {
  if (module instanceof LightningDiT) return new DiTGenerator(module, defaults);
  if (module instanceof TarFlow) return new FlowGenerator(module, defaults);
  throw new ConfigError(name, `${module.constructor.name} is not a known latent generator (LightningDiT, TarFlow); implement LatentGenerator for it`);
}
