// Exponential moving average of parameters (DiT / SiT style: ema <- decay ema + (1 - decay) p after
// every optimizer step). The shadow copies live in non-trainable variables; copyTo() writes them into
// a module, swap() exchanges them with the live parameters for evaluation and swaps back.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../errors.js';
import { Module } from '../nn/module.js';
import { fromTorch, toTorch, type Layout } from '../nn/layout.js';
import { ownedVariable, type NamedArrays } from './adamw.js';
import { momentUpdate, useFusedUpdate } from './fused-update.js';

export interface EmaOptions {
  /** Decay per update (e.g. 0.9999). */
  decay: number;
  /**
   * Warm-up of the decay: min(decay, (1 + n) / (10 + n)) after n updates (timm/`ModelEmaV2`-style);
   * off by default (DiT uses a plain constant decay).
   */
  warmup?: boolean;
}

export interface EmaState {
  /**
   * `<param>` -> averaged value. Built from a Module, values are in PyTorch layout (so the `ema.*`
   * tensors of a checkpoint load into the reference model); from plain variables, as they are.
   */
  tensors: NamedArrays;
  json: { kind: 'ema'; decay: number; updates: number };
}

export class EMA {
  readonly decay: number;
  readonly warmup: boolean;
  /** Number of update() calls so far. */
  updates = 0;
  private readonly params: Map<string, tf.Variable>;
  private readonly shadow = new Map<string, tf.Variable>();
  private readonly layouts = new Map<string, { layout: Layout; torchShape: number[] }>();

  /**
   * Averages every parameter of a module (frozen ones included, as DiT's deepcopy does) or the given
   * variables by name. The average starts at the current values.
   */
  constructor(source: Module | Map<string, tf.Variable>, opts: EmaOptions) {
    if (!(opts.decay >= 0 && opts.decay <= 1)) throw new ConfigError('EMA', `decay must be in [0, 1], got ${opts.decay}`);
    this.decay = opts.decay;
    this.warmup = opts.warmup ?? false;
    this.params = source instanceof Module ? new Map(source.namedParameters().map(([k, p]) => [k, p.variable])) : new Map(source);
    if (source instanceof Module) for (const [k, p] of source.namedParameters()) this.layouts.set(k, { layout: p.layout, torchShape: p.torchShape.slice() });
    for (const [k, p] of this.params) this.shadow.set(k, ownedVariable(tf.clone(p)));
  }

  /** Decay used by the next update. */
  currentDecay(): number {
    return this.warmup ? Math.min(this.decay, (1 + this.updates) / (10 + this.updates)) : this.decay;
  }

  /** ema <- d ema + (1 - d) p, for every parameter. */
  update(): void {
    const d = this.currentDecay();
    for (const [k, p] of this.params) {
      const s = this.shadow.get(k)!;
      // one fused kernel where it pays (fused-update.ts); the same bits on cpu and wasm either way
      if (p.dtype === 'float32' && useFusedUpdate(p.size)) tf.tidy(() => s.assign(momentUpdate(s, p, { c1: d, c2: 1 - d, scale: null, square: false })));
      else tf.tidy(() => s.assign(tf.add(tf.mul(s, d), tf.mul(p, 1 - d))));
    }
    this.updates += 1;
  }

  /** The averaged value of one parameter (a view owned by the EMA: do not dispose). */
  get(name: string): tf.Variable | undefined {
    return this.shadow.get(name);
  }

  names(): string[] {
    return [...this.shadow.keys()];
  }

  /** Writes the averages into `target`'s parameters of the same names (another copy of the model). */
  copyTo(target: Module | Map<string, tf.Variable>): void {
    const vars = target instanceof Module ? new Map(target.namedParameters().map(([k, p]) => [k, p.variable])) : target;
    const missing = this.names().filter((k) => !vars.has(k));
    if (missing.length) throw new ConfigError('EMA.copyTo', `target has no parameter${missing.length > 1 ? 's' : ''} ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}`);
    for (const [k, s] of this.shadow) {
      const v = vars.get(k)!;
      if (v.shape.join() !== s.shape.join()) throw new ConfigError('EMA.copyTo', `'${k}' is [${v.shape}] in the target, [${s.shape}] in the EMA`);
      v.assign(s);
    }
  }

  /** Exchanges the live parameters and the averages (call again to undo). */
  swap(): void {
    for (const [k, p] of this.params) {
      const s = this.shadow.get(k)!;
      const live = tf.clone(p);
      p.assign(s);
      s.assign(live);
      live.dispose();
    }
  }

  /** Runs `fn` with the averaged weights swapped into the live parameters, then swaps back. */
  async withAveraged<T>(fn: () => T | Promise<T>): Promise<T> {
    this.swap();
    try {
      return await fn();
    } finally {
      this.swap();
    }
  }

  /** Shape a parameter has in exported state (PyTorch's where known). */
  private exportShape(k: string): number[] {
    return this.layouts.get(k)?.torchShape.slice() ?? this.shadow.get(k)!.shape.slice();
  }

  async exportState(): Promise<EmaState> {
    const tensors: NamedArrays = new Map();
    for (const [k, s] of this.shadow) {
      const l = this.layouts.get(k);
      const t = l ? toTorch(s, l.layout, l.torchShape) : s;
      tensors.set(k, { shape: this.exportShape(k), data: (await t.data()) as Float32Array });
      if (t !== s) t.dispose();
    }
    return { tensors, json: { kind: 'ema', decay: this.decay, updates: this.updates } };
  }

  importState(state: EmaState): void {
    const problems: string[] = [];
    for (const k of this.shadow.keys()) {
      const t = state.tensors.get(k);
      const shape = this.exportShape(k);
      if (!t) problems.push(`missing '${k}'`);
      else if (t.shape.join() !== shape.join()) problems.push(`'${k}' is [${t.shape}], expected [${shape}]`);
    }
    for (const k of state.tensors.keys()) if (!this.shadow.has(k)) problems.push(`unexpected '${k}'`);
    if (problems.length) throw new ConfigError('EMA.importState', problems.join('; '));
    for (const [k, s] of this.shadow) {
      const t = state.tensors.get(k)!;
      const l = this.layouts.get(k);
      tf.tidy(() => {
        const value = tf.tensor(t.data, t.shape, 'float32');
        s.assign(l ? fromTorch(value, l.layout) : value);
      });
    }
    this.updates = state.json.updates;
  }

  dispose(): void {
    for (const s of this.shadow.values()) s.dispose();
    this.shadow.clear();
  }
}
