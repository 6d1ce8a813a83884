// Training checkpoints: ONE safetensors file per checkpoint holding the modules' state dicts (PyTorch
// layouts and key names, `<module>.<key>`), the optimizer's moments (`optimizer.exp_avg.<param>`, ...),
// the EMA weights (`ema.<param>`) and, in `__metadata__`, a JSON with the step, data position, RNG
// and optimizer/EMA bookkeeping. One file means one atomic rename: a checkpoint either exists whole
// or not at all. Stores: FileCheckpointStore (Node, temp file + fsync + rename), MemoryCheckpointStore.
import { ConfigError, WeightsFormatError } from '../errors.js';
import { encodeSafetensors, parseSafetensors, type SafetensorsBytes } from '../io/safetensors.js';
import { removeOrphanTemps } from '../io/file-source.js';
import type { Module } from '../nn/module.js';
import type { NamedArrays, OptimizerState } from './adamw.js';
import type { EmaState } from './ema.js';
import type { RngState } from './rng.js';

export const CHECKPOINT_FORMAT = 'fae-train-checkpoint/1';

/** Where checkpoints go. `write` must be atomic: a reader never sees a half-written checkpoint. */
export interface CheckpointStore {
  readonly location: string;
  write(name: string, bytes: Uint8Array): Promise<void>;
  read(name: string): Promise<Uint8Array | null>;
  list(): Promise<string[]>;
  remove(name: string): Promise<void>;
}

/** Everything a trainer needs to continue as if never stopped. */
export interface TrainerCheckpointState {
  format: typeof CHECKPOINT_FORMAT;
  /** Optimizer steps completed. */
  step: number;
  /** Data position: epoch and batches consumed inside it. */
  epoch: number;
  index: number;
  rng: RngState;
  optimizer: OptimizerState['json'];
  ema: EmaState['json'] | null;
  modules: string[];
  /** Free-form user data (e.g. the config), JSON. */
  extra?: unknown;
}

const RESERVED = new Set(['optimizer', 'ema']);
const NAME_RE = /^step-(\d{8,})\.safetensors$/;

/** File name of the checkpoint after `step` steps (zero-padded so names sort by step). */
export function checkpointName(step: number): string {
  return `step-${String(step).padStart(8, '0')}.safetensors`;
}

/** Step of a checkpoint file name, or null for other files. */
export function checkpointStep(name: string): number | null {
  const m = NAME_RE.exec(name);
  return m ? Number(m[1]) : null;
}

/** Encodes a checkpoint. Module state dicts are read from the modules (PyTorch layout). */
export async function encodeCheckpoint(
  modules: Record<string, Module>,
  optimizer: OptimizerState,
  ema: EmaState | null,
  state: Omit<TrainerCheckpointState, 'format' | 'optimizer' | 'ema' | 'modules'>,
): Promise<Uint8Array> {
  const tensors: Map<string, { shape: number[]; data: Float32Array | Int32Array }> = new Map();
  for (const [name, m] of Object.entries(modules)) {
    if (RESERVED.has(name) || name.includes('.')) throw new ConfigError('checkpoint', `module name '${name}' is reserved or contains a dot`);
    for (const [k, v] of await m.stateDict()) tensors.set(`${name}.${k}`, v);
  }
  for (const [k, v] of optimizer.tensors) tensors.set(`optimizer.${k}`, v);
  if (ema) for (const [k, v] of ema.tensors) tensors.set(`ema.${k}`, v);
  const json: TrainerCheckpointState = { format: CHECKPOINT_FORMAT, ...state, optimizer: optimizer.json, ema: ema?.json ?? null, modules: Object.keys(modules) };
  return encodeSafetensors(tensors, { format: CHECKPOINT_FORMAT, trainer: JSON.stringify(json) });
}

export interface DecodedCheckpoint {
  state: TrainerCheckpointState;
  store: SafetensorsBytes;
  optimizer: OptimizerState;
  ema: EmaState | null;
}

async function collect(store: SafetensorsBytes, prefix: string): Promise<NamedArrays> {
  const out: NamedArrays = new Map();
  for (const k of store.keys()) {
    if (!k.startsWith(prefix)) continue;
    const data = await store.read(k);
    if (!(data instanceof Float32Array)) throw new WeightsFormatError(store.source, `'${k}' is ${store.info(k)?.dtype}, expected F32`);
    out.set(k.slice(prefix.length), { shape: store.info(k)!.shape, data });
  }
  return out;
}

/** Parses checkpoint bytes (does not touch any module). */
export async function decodeCheckpoint(bytes: Uint8Array, source = 'checkpoint'): Promise<DecodedCheckpoint> {
  const store = parseSafetensors(bytes, source);
  if (store.metadata.format !== CHECKPOINT_FORMAT || !store.metadata.trainer) {
    throw new WeightsFormatError(source, `not a trainer checkpoint (metadata format '${store.metadata.format ?? ''}', expected '${CHECKPOINT_FORMAT}')`);
  }
  let state: TrainerCheckpointState;
  try {
    state = JSON.parse(store.metadata.trainer) as TrainerCheckpointState;
  } catch (e) {
    throw new WeightsFormatError(source, `trainer metadata is not JSON (${(e as Error).message})`, e);
  }
  const optimizer: OptimizerState = { tensors: await collect(store, 'optimizer.'), json: state.optimizer };
  const ema: EmaState | null = state.ema ? { tensors: await collect(store, 'ema.'), json: state.ema } : null;
  return { state, store, optimizer, ema };
}

/** Loads every module's weights from a decoded checkpoint (strict: all keys must match). */
export async function loadCheckpointModules(ckpt: DecodedCheckpoint, modules: Record<string, Module>): Promise<void> {
  const missing = Object.keys(modules).filter((n) => !ckpt.state.modules.includes(n));
  if (missing.length) throw new ConfigError(ckpt.store.source, `checkpoint has no module '${missing.join("', '")}' (it holds '${ckpt.state.modules.join("', '")}')`);
  for (const [name, m] of Object.entries(modules)) await m.loadStateDict(ckpt.store, { prefix: `${name}.` });
}

/** The newest checkpoint name in a store, or null. */
export async function latestCheckpoint(store: CheckpointStore): Promise<string | null> {
  let best: string | null = null;
  let bestStep = -1;
  for (const n of await store.list()) {
    const s = checkpointStep(n);
    if (s !== null && s > bestStep) [best, bestStep] = [n, s];
  }
  return best;
}

/** Removes all but the newest `keep` checkpoints. */
export async function pruneCheckpoints(store: CheckpointStore, keep: number): Promise<void> {
  const all = (await store.list()).filter((n) => checkpointStep(n) !== null).sort((a, b) => checkpointStep(b)! - checkpointStep(a)!);
  for (const n of all.slice(Math.max(1, keep))) await store.remove(n);
}

/** Checkpoints in memory (browser, tests). */
export class MemoryCheckpointStore implements CheckpointStore {
  readonly location = 'memory';
  readonly files = new Map<string, Uint8Array>();
  async write(name: string, bytes: Uint8Array): Promise<void> {
    this.files.set(name, bytes.slice());
  }
  async read(name: string): Promise<Uint8Array | null> {
    return this.files.get(name)?.slice() ?? null;
  }
  async list(): Promise<string[]> {
    return [...this.files.keys()];
  }
  async remove(name: string): Promise<void> {
    this.files.delete(name);
  }
}

// Optional Node modules are imported by a variable specifier so browser bundles never resolve them.
async function nodeModule<T>(name: string): Promise<T> {
  return import(/* @vite-ignore */ name) as Promise<T>;
}

/** Temp files of FileCheckpointStore: `.<name>.<pid>.<time>.tmp`. */
const TEMP_RE = /^\.(.+)\.(\d+)\.(\d+)\.tmp$/;

/**
 * Checkpoints as files in a directory (Node): temp file, fsync, rename; the directory is made on demand.
 * A writer killed mid-write (kill -9, power loss) leaves only a hidden `.tmp` file, never a partial file
 * under the checkpoint's name; the next `write` or `list` removes such orphans (writer process gone, or
 * older than a day).
 */
export class FileCheckpointStore implements CheckpointStore {
  constructor(readonly location: string) {}

  /** Removes temp files whose writer died; returns their names. */
  async removeOrphans(): Promise<string[]> {
    return removeOrphanTemps(this.location.replace(/\/+$/, '') || '/', (n) => {
      const m = TEMP_RE.exec(n);
      return m ? Number(m[2]) : null;
    });
  }

  private async fs(): Promise<typeof import('node:fs/promises')> {
    return nodeModule<typeof import('node:fs/promises')>('node:fs/promises');
  }

  private path(name: string): string {
    if (!/^[\w.-]+$/.test(name) || name.startsWith('.')) throw new ConfigError('FileCheckpointStore', `invalid checkpoint name '${name}'`);
    return `${this.location.replace(/\/+$/, '')}/${name}`;
  }

  async write(name: string, bytes: Uint8Array): Promise<void> {
    const fs = await this.fs();
    const dest = this.path(name);
    await fs.mkdir(this.location, { recursive: true });
    await this.removeOrphans();
    const tmp = `${this.location.replace(/\/+$/, '')}/.${name}.${process.pid}.${Date.now()}.tmp`;
    const fh = await fs.open(tmp, 'w');
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await fs.rename(tmp, dest);
    } catch (e) {
      await fs.rm(tmp, { force: true });
      throw e;
    }
  }

  async read(name: string): Promise<Uint8Array | null> {
    const fs = await this.fs();
    try {
      const b = await fs.readFile(this.path(name));
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  async list(): Promise<string[]> {
    const fs = await this.fs();
    await this.removeOrphans();
    try {
      return (await fs.readdir(this.location)).filter((n) => !n.startsWith('.'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }

  async remove(name: string): Promise<void> {
    const fs = await this.fs();
    await fs.rm(this.path(name), { force: true });
  }
}
