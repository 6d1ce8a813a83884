// AdamW exactly as torch.optim.AdamW (amsgrad=False): decoupled weight decay p <- p (1 - lr wd),
// moments m, v with bias correction, eps added to sqrt(v_hat). Each parameter keeps its own step
// count, as torch does (a parameter without a gradient in a step is skipped and does not count it).
// State (per-parameter step, exp_avg, exp_avg_sq) exports to named tensors for checkpoints.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '../errors.js';
import { toGradMap, type NamedGradsInput } from './grads.js';
import { adamwParamUpdate, momentUpdate, useFusedUpdate } from './fused-update.js';

export interface AdamWOptions {
  /** Learning rate (default 1e-3, torch's default); a schedule sets it per step through step(). */
  lr?: number;
  betas?: [number, number];
  eps?: number;
  /** Decoupled weight decay (default 1e-2, torch's default); a function picks it per parameter name. */
  weightDecay?: number | ((name: string) => number);
  /**
   * Use the fused update kernels (3 per parameter instead of ~14 ops; fused-update.ts) where the
   * backend has them (default true; on wasm only for tensors up to WASM_FUSED_MAX_ELEMENTS). Same
   * bits as the unfused ops on cpu and wasm.
   */
  fused?: boolean;
}

export interface AdamWStepOptions {
  /** Learning rate for this and later steps. */
  lr?: number;
  /** Multiplies every gradient first (gradient clipping's coefficient), without a clipped copy. */
  gradScale?: number;
}

/** Named float32 arrays (PyTorch-free, backend-free), as checkpoints store them. */
export type NamedArrays = Map<string, { shape: number[]; data: Float32Array }>;

export interface OptimizerState {
  /** `exp_avg.<param>`, `exp_avg_sq.<param>` tensors. */
  tensors: NamedArrays;
  /** Per-parameter step counts and the hyper-parameters, JSON-serialisable. */
  json: { kind: 'adamw'; steps: Record<string, number>; lr: number; betas: [number, number]; eps: number };
}

interface Slot {
  m: tf.Variable;
  v: tf.Variable;
  step: number;
}

export class AdamW {
  lr: number;
  readonly betas: [number, number];
  readonly eps: number;
  private readonly decayOf: (name: string) => number;
  private readonly slots = new Map<string, Slot>();
  private readonly fused: boolean;

  /** `params`: the variables to train, by name (e.g. `module.trainableVariables()`). */
  constructor(readonly params: Map<string, tf.Variable>, opts: AdamWOptions = {}) {
    this.lr = opts.lr ?? 1e-3;
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    const wd = opts.weightDecay ?? 1e-2;
    this.decayOf = typeof wd === 'function' ? wd : () => wd;
    this.fused = opts.fused ?? true;
    const [b1, b2] = this.betas;
    if (!(this.lr >= 0) || !(this.eps >= 0) || !(b1 >= 0 && b1 < 1) || !(b2 >= 0 && b2 < 1)) {
      throw new ConfigError('AdamW', `invalid hyper-parameters lr=${this.lr} betas=[${b1}, ${b2}] eps=${this.eps}`);
    }
  }

  /** Step count of one parameter (0 before its first update). */
  stepOf(name: string): number {
    return this.slots.get(name)?.step ?? 0;
  }

  private slot(name: string, p: tf.Variable): Slot {
    let s = this.slots.get(name);
    if (!s) {
      s = { m: ownedVariable(tf.zerosLike(p)), v: ownedVariable(tf.zerosLike(p)), step: 0 };
      this.slots.set(name, s);
    }
    return s;
  }

  /**
   * One update with `grads` (by parameter name). `lr` overrides this.lr for this and later steps;
   * `gradScale` multiplies the gradients first. Gradients of names this optimiser does not hold are an
   * error; missing gradients skip the parameter.
   */
  step(grads: NamedGradsInput, opts: AdamWStepOptions = {}): void {
    if (opts.lr !== undefined) this.lr = opts.lr;
    const [b1, b2] = this.betas;
    const lr = this.lr;
    const scale = opts.gradScale === undefined || opts.gradScale === 1 ? null : opts.gradScale;
    for (const [name, g] of toGradMap(grads)) {
      const p = this.params.get(name);
      if (!p) throw new ConfigError('AdamW.step', `gradient for '${name}', which is not a parameter of this optimiser`);
      if (g.shape.length !== p.shape.length || g.shape.some((d, i) => d !== p.shape[i])) {
        throw new ShapeError(`grad '${name}'`, `shape [${p.shape}] (the parameter's)`, `[${g.shape}]`);
      }
      const s = this.slot(name, p);
      s.step += 1;
      const wd = this.decayOf(name);
      const bc1 = 1 - b1 ** s.step;
      const bc2 = 1 - b2 ** s.step;
      const stepSize = lr / bc1;
      if (this.fused && p.dtype === 'float32' && g.dtype === 'float32' && useFusedUpdate(p.size)) {
        tf.tidy(() => {
          const m = momentUpdate(s.m, g, { c1: b1, c2: 1 - b1, scale, square: false }); // b1 m + (1-b1) s g
          const v = momentUpdate(s.v, g, { c1: b2, c2: 1 - b2, scale, square: true }); // b2 v + (1-b2) (s g)^2
          s.m.assign(m);
          s.v.assign(v);
          p.assign(adamwParamUpdate(p, m, v, { d: wd !== 0 ? 1 - lr * wd : null, k: stepSize, r: Math.sqrt(bc2), eps: this.eps }));
        });
        continue;
      }
      tf.tidy(() => {
        const gs = scale !== null ? tf.mul(g, tf.scalar(scale)) : g;
        const m = tf.add(tf.mul(s.m, b1), tf.mul(gs, 1 - b1)); // m <- b1 m + (1-b1) g
        const v = tf.add(tf.mul(s.v, b2), tf.mul(tf.square(gs), 1 - b2)); // v <- b2 v + (1-b2) g^2
        const denom = tf.add(tf.div(tf.sqrt(v), Math.sqrt(bc2)), this.eps);
        const decayed = wd !== 0 ? tf.mul(p, 1 - lr * wd) : p; // decoupled decay first, as torch
        s.m.assign(m);
        s.v.assign(v);
        p.assign(tf.sub(decayed, tf.mul(tf.div(m, denom), stepSize)));
      });
    }
  }

  /** The moments and step counts, for a checkpoint. */
  async exportState(): Promise<OptimizerState> {
    const tensors: NamedArrays = new Map();
    const steps: Record<string, number> = {};
    for (const [name, s] of this.slots) {
      tensors.set(`exp_avg.${name}`, { shape: s.m.shape.slice(), data: (await s.m.data()) as Float32Array });
      tensors.set(`exp_avg_sq.${name}`, { shape: s.v.shape.slice(), data: (await s.v.data()) as Float32Array });
      steps[name] = s.step;
    }
    return { tensors, json: { kind: 'adamw', steps, lr: this.lr, betas: [...this.betas], eps: this.eps } };
  }

  /** Restores what exportState gave (replacing any current state). */
  importState(state: OptimizerState): void {
    if (state.json.kind !== 'adamw') throw new ConfigError('AdamW.importState', `state is of a '${state.json.kind}' optimiser`);
    const problems: string[] = [];
    for (const [name, step] of Object.entries(state.json.steps)) {
      const p = this.params.get(name);
      const m = state.tensors.get(`exp_avg.${name}`);
      const v = state.tensors.get(`exp_avg_sq.${name}`);
      if (!p) problems.push(`'${name}' is not a parameter of this optimiser`);
      else if (!m || !v) problems.push(`'${name}': exp_avg / exp_avg_sq missing`);
      else if (m.shape.join() !== p.shape.join() || v.shape.join() !== p.shape.join()) problems.push(`'${name}': moments are [${m.shape}], parameter is [${p.shape}]`);
      else if (!Number.isInteger(step) || step < 0) problems.push(`'${name}': step ${step} is not a count`);
    }
    if (problems.length) throw new ConfigError('AdamW.importState', problems.join('; '));
    this.disposeSlots();
    for (const [name, step] of Object.entries(state.json.steps)) {
      const m = state.tensors.get(`exp_avg.${name}`)!;
      const v = state.tensors.get(`exp_avg_sq.${name}`)!;
      this.slots.set(name, {
        m: ownedVariable(tf.tensor(m.data, m.shape, 'float32')),
        v: ownedVariable(tf.tensor(v.data, v.shape, 'float32')),
        step,
      });
    }
    this.lr = state.json.lr;
  }

  private disposeSlots(): void {
    for (const s of this.slots.values()) {
      s.m.dispose();
      s.v.dispose();
    }
    this.slots.clear();
  }

  /** Frees the moment tensors (not the parameters). */
  dispose(): void {
    this.disposeSlots();
  }
}

/** A non-trainable variable holding `value`; the initial tensor is released (a variable shares its data). */
export function ownedVariable(value: tf.Tensor): tf.Variable {
  const v = tf.variable(value, false);
  value.dispose();
  return v;
}
