// Module: a tree of named parameters (tf.Variable) and buffers addressed by PyTorch state-dict keys
// (`blocks.0.attn.qkv.weight`). Layers keep parameters in the layout they compute in; the layout
// tag converts from/to PyTorch's on load and save (see layout.ts), so published checkpoints load and
// our stateDict() loads back into the reference PyTorch module.
import * as tf from '@tensorflow/tfjs-core';
import { StateDictError, type StateDictProblem } from '../errors.js';
import { MemoryTensorStore, readFloat32, shapeSize, type TensorStore } from '../io/store.js';
import { fromTorch, ourShape, toTorch, type Layout } from './layout.js';
import { deriveSeed, isSeededInitializer, type Initializer, type SeededInitializer } from './init.js';

export interface ParameterEntry {
  variable: tf.Variable;
  layout: Layout;
  /** Shape under PyTorch's layout (what state dicts hold). */
  torchShape: number[];
  trainable: boolean;
  /**
   * A fixed parameter (PyTorch's `nn.Parameter(..., requires_grad=False)`, e.g. DiT/MAE's sin-cos
   * `pos_embed`): in the state dict and the parameter count, never trained, also after setTrainable(true).
   */
  frozen: boolean;
}

export interface BufferEntry {
  tensor: tf.Tensor;
  layout: Layout;
  torchShape: number[];
  /** Non-persistent buffers (computed tables) are not in the state dict, as in PyTorch. */
  persistent: boolean;
}

export type StateDictInput = TensorStore | Record<string, tf.Tensor> | Map<string, tf.Tensor>;

export interface LoadStateDictOptions {
  /** Report every missing, unexpected or wrongly shaped key in one error (default true). */
  strict?: boolean;
  /** Prefix of this module's keys inside the store (e.g. 'vision_model.'). */
  prefix?: string;
}

export interface LoadReport {
  loaded: string[];
  missing: string[];
  unexpected: string[];
}

export class Module {
  /** Training mode (dropout, noise augmentation, label dropout on); see train()/eval(). */
  training = false;
  private readonly _params = new Map<string, ParameterEntry>();
  private readonly _buffers = new Map<string, BufferEntry>();
  private readonly _children = new Map<string, Module>();
  /** Parameters drawn by a seeded initialiser, with the value (dataId) drawn last: redrawn on attach while untouched. */
  private readonly _seeded = new Map<string, { init: SeededInitializer; dataId: unknown }>();
  private _disposed = false;

  /** Name of the class, used in error messages. */
  get typeName(): string {
    return this.constructor.name;
  }

  /**
   * Registers a parameter. `torchShape` is its shape in PyTorch; the variable holds it in `layout`.
   * `init` gives the initial value (our layout) or is a tensor (our layout; ownership is taken).
   * A seeded initialiser (init.* with a seed) draws from deriveSeed(seed, name) here and again from
   * deriveSeed(seed, full path) whenever the module is attached (addModule), unless assigned since.
   */
  protected addParameter(name: string, torchShape: number[], init: Initializer | tf.Tensor, layout: Layout = 'plain', opts: { frozen?: boolean } = {}): tf.Variable {
    this.assertFreeName(name);
    const shape = ourShape(torchShape, layout);
    const seeded = isSeededInitializer(init) ? init : null;
    const value = init instanceof tf.Tensor ? init : seeded ? seeded.draw(shape, deriveSeed(seeded.seed, name)) : init(shape);
    if (!arraysEqual(value.shape, shape)) {
      throw new Error(`${this.typeName}.${name}: initial value has shape [${value.shape}] but the parameter is [${shape}]`);
    }
    const frozen = opts.frozen ?? false;
    const variable = tf.variable(value, !frozen);
    if (!(init instanceof tf.Tensor) || value !== variable) value.dispose();
    this._params.set(name, { variable, layout, torchShape: torchShape.slice(), trainable: !frozen, frozen });
    if (seeded) this._seeded.set(name, { init: seeded, dataId: variable.dataId });
    return variable;
  }

  /** Registers a buffer (not trained). Takes ownership of `tensor`. */
  protected addBuffer(name: string, tensor: tf.Tensor, opts: { persistent?: boolean; layout?: Layout; torchShape?: number[] } = {}): tf.Tensor {
    this.assertFreeName(name);
    const layout = opts.layout ?? 'plain';
    const kept = tf.keep(tensor);
    this._buffers.set(name, { tensor: kept, layout, torchShape: opts.torchShape ?? kept.shape.slice(), persistent: opts.persistent ?? true });
    return kept;
  }

  /** Replaces a buffer's value (e.g. running statistics, latent normalisation). */
  protected setBuffer(name: string, tensor: tf.Tensor): tf.Tensor {
    const b = this._buffers.get(name);
    if (!b) throw new Error(`${this.typeName}: no buffer '${name}'`);
    b.tensor.dispose();
    b.tensor = tf.keep(tensor);
    return b.tensor;
  }

  protected getBuffer(name: string): tf.Tensor {
    const b = this._buffers.get(name);
    if (!b) throw new Error(`${this.typeName}: no buffer '${name}'`);
    return b.tensor;
  }

  /**
   * Registers a child module under `name` (its keys become `name.<key>`). Seeded parameters of the
   * child's tree are redrawn from their seed and their path under this module (`name.<key>`), so
   * the final weights depend on (seed, full path) only, never on what was constructed before.
   */
  protected addModule<M extends Module>(name: string, module: M): M {
    this.assertFreeName(name);
    this._children.set(name, module);
    module.redrawSeeded(`${name}.`);
    return module;
  }

  /** Redraws each seeded parameter of this subtree from deriveSeed(seed, prefix + key); one assigned since its last draw (loaded, re-initialised) is kept and no longer tracked. */
  private redrawSeeded(prefix: string): void {
    for (const [name, s] of this._seeded) {
      const v = this._params.get(name)!.variable;
      if (v.isDisposed || v.dataId !== s.dataId) {
        this._seeded.delete(name);
        continue;
      }
      tf.tidy(() => v.assign(s.init.draw(v.shape, deriveSeed(s.init.seed, prefix + name))));
      s.dataId = v.dataId;
    }
    for (const [name, c] of this._children) c.redrawSeeded(`${prefix}${name}.`);
  }

  private assertFreeName(name: string): void {
    if (!name || name.includes('.')) throw new Error(`${this.typeName}: invalid name '${name}' (non-empty, no dots)`);
    if (this._params.has(name) || this._buffers.has(name) || this._children.has(name)) {
      throw new Error(`${this.typeName}: '${name}' is already registered`);
    }
  }

  /** Direct children, in registration order. */
  children(): Array<[string, Module]> {
    return [...this._children.entries()];
  }

  /** Every parameter with its full key, depth-first in registration order (PyTorch's order). */
  namedParameters(prefix = ''): Array<[string, ParameterEntry]> {
    const out: Array<[string, ParameterEntry]> = [];
    for (const [n, p] of this._params) out.push([prefix + n, p]);
    for (const [n, c] of this._children) out.push(...c.namedParameters(`${prefix}${n}.`));
    return out;
  }

  namedBuffers(prefix = ''): Array<[string, BufferEntry]> {
    const out: Array<[string, BufferEntry]> = [];
    for (const [n, b] of this._buffers) out.push([prefix + n, b]);
    for (const [n, c] of this._children) out.push(...c.namedBuffers(`${prefix}${n}.`));
    return out;
  }

  /** Every module in the tree with its key prefix ('' for this one). */
  namedModules(prefix = ''): Array<[string, Module]> {
    const out: Array<[string, Module]> = [[prefix.replace(/\.$/, ''), this]];
    for (const [n, c] of this._children) out.push(...c.namedModules(`${prefix}${n}.`));
    return out;
  }

  /** Variables of trainable parameters, keyed by state-dict name (for optimisers and tf.variableGrads). */
  trainableVariables(): Map<string, tf.Variable> {
    return new Map(this.namedParameters().filter(([, p]) => p.trainable).map(([k, p]) => [k, p.variable]));
  }

  parameterCount(opts: { trainableOnly?: boolean } = {}): number {
    let n = 0;
    for (const [, p] of this.namedParameters()) if (!opts.trainableOnly || p.trainable) n += shapeSize(p.torchShape);
    return n;
  }

  /** Freeze or unfreeze every parameter of this subtree (frozen parameters get no gradients); fixed ones stay frozen. */
  setTrainable(trainable: boolean): this {
    for (const [, p] of this.namedParameters()) {
      p.trainable = trainable && !p.frozen;
      (p.variable as { trainable: boolean }).trainable = p.trainable;
    }
    return this;
  }

  /**
   * Marks the parameter `key` (a full state-dict key of this subtree) as fixed: never trained, also
   * after setTrainable(true) (PyTorch's requires_grad=False parameters).
   */
  freezeParameter(key: string): this {
    const entry = this.namedParameters().find(([k]) => k === key)?.[1];
    if (!entry) throw new Error(`${this.typeName}: no parameter '${key}' to freeze`);
    entry.frozen = true;
    entry.trainable = false;
    (entry.variable as { trainable: boolean }).trainable = false;
    return this;
  }

  freeze(): this {
    return this.setTrainable(false);
  }

  /** Training mode on/off for this subtree. */
  train(on = true): this {
    for (const [, m] of this.namedModules()) m.training = on;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /**
   * Loads weights by PyTorch key. Reads one tensor at a time from the store (no second copy of the
   * checkpoint). Strict by default: every missing, unexpected or wrongly shaped key is reported
   * together in one StateDictError, and nothing is assigned when any problem is found.
   */
  async loadStateDict(input: StateDictInput, opts: LoadStateDictOptions = {}): Promise<LoadReport> {
    const strict = opts.strict ?? true;
    const prefix = opts.prefix ?? '';
    const store: TensorStore = isStore(input) ? input : new MemoryTensorStore(input as Record<string, tf.Tensor>);
    const targets = new Map<string, ParameterEntry | BufferEntry>();
    for (const [k, p] of this.namedParameters()) targets.set(k, p);
    for (const [k, b] of this.namedBuffers()) if (b.persistent) targets.set(k, b);
    const available = new Set(store.keys().filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length)));
    const problems: StateDictProblem[] = [];
    const missing: string[] = [];
    for (const [k, t] of targets) {
      if (!available.has(k)) {
        missing.push(k);
        problems.push({ key: k, kind: 'missing', expected: `[${t.torchShape}]` });
        continue;
      }
      const info = store.info(prefix + k)!;
      if (!arraysEqual(info.shape, t.torchShape)) problems.push({ key: k, kind: 'shape', expected: `[${t.torchShape}]`, found: `[${info.shape}]` });
    }
    const unexpected = [...available].filter((k) => !targets.has(k));
    for (const k of unexpected) problems.push({ key: k, kind: 'unexpected', found: `[${store.info(prefix + k)?.shape}]` });
    const fatal = strict ? problems : problems.filter((p) => p.kind === 'shape');
    if (fatal.length) throw new StateDictError(`${this.typeName} (${store.source})`, fatal);
    const loaded: string[] = [];
    for (const [k, t] of targets) {
      if (!available.has(k)) continue;
      const data = await readFloat32(store, prefix + k);
      const isInt = 'tensor' in t && t.tensor.dtype === 'int32';
      tf.tidy(() => {
        const torchValue = isInt ? tf.tensor(Int32Array.from(data), t.torchShape, 'int32') : tf.tensor(data, t.torchShape, 'float32');
        const value = fromTorch(torchValue, t.layout);
        if ('variable' in t) t.variable.assign(value);
        else {
          t.tensor.dispose();
          t.tensor = tf.keep(value);
        }
      });
      loaded.push(k);
    }
    return { loaded, missing, unexpected };
  }

  /**
   * The state dict in PyTorch layouts and key names, as float32 arrays (int32 buffers as Int32Array).
   * Encode it with encodeSafetensors() for a file `safetensors.torch.load_file` + `load_state_dict` accept.
   */
  async stateDict(): Promise<Map<string, { shape: number[]; data: Float32Array | Int32Array }>> {
    const out = new Map<string, { shape: number[]; data: Float32Array | Int32Array }>();
    const all: Array<[string, { layout: Layout; torchShape: number[] }, tf.Tensor]> = [
      ...this.namedParameters().map(([k, p]) => [k, p, p.variable] as [string, ParameterEntry, tf.Tensor]),
      ...this.namedBuffers().filter(([, b]) => b.persistent).map(([k, b]) => [k, b, b.tensor] as [string, BufferEntry, tf.Tensor]),
    ];
    for (const [k, meta, value] of all) {
      const torchValue = toTorch(value, meta.layout, meta.torchShape);
      const data = (await torchValue.data()) as Float32Array | Int32Array;
      torchValue.dispose();
      out.set(k, { shape: meta.torchShape.slice(), data });
    }
    return out;
  }

  /** Frees every parameter and buffer of this subtree. Idempotent. */
  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    for (const p of this._params.values()) p.variable.dispose();
    for (const b of this._buffers.values()) b.tensor.dispose();
    for (const c of this._children.values()) c.dispose();
  }
}

/** An indexable list of modules whose keys are `0.`, `1.`, ... like torch.nn.ModuleList. */
export class ModuleList<M extends Module = Module> extends Module {
  private readonly items: M[] = [];
  constructor(modules: M[] = []) {
    super();
    for (const m of modules) this.push(m);
  }
  push(m: M): M {
    this.addModule(String(this.items.length), m);
    this.items.push(m);
    return m;
  }
  at(i: number): M {
    const m = this.items[i < 0 ? this.items.length + i : i];
    if (!m) throw new RangeError(`ModuleList index ${i} out of range (length ${this.items.length})`);
    return m;
  }
  get length(): number {
    return this.items.length;
  }
  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }
}

function isStore(x: unknown): x is TensorStore {
  return typeof x === 'object' && x !== null && typeof (x as TensorStore).keys === 'function' && typeof (x as TensorStore).read === 'function' && typeof (x as TensorStore).info === 'function';
}

function arraysEqual(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
