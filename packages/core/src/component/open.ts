// Opening a component: its config.json (parsed) and lazy access to its files and weights, from a
// local folder, an http(s) URL of a folder or a hub id ('org/name[@rev]') through core's hub code
// (cache, progress events, integrity checks), or from any file reader (a browser app's fetch).
// A source may also name a weights file directly ('dir/ckpt.pt', 'https://host/dir/model.safetensors'):
// config.json is then read beside it.
import { ConfigError, WeightsFormatError } from '../errors.js';
import { fetchModelFile, type HubOptions } from '../hub/fetch-file.js';
import { loadWeights, readModelJson } from '../hub/resolve.js';
import { openSafetensorsFile } from '../io/safetensors-file.js';
import { parseSafetensors } from '../io/safetensors.js';
import type { TensorStore } from '../io/store.js';
import { loadTorchCheckpoint, torchStateDictStore, type TorchValue } from '../io/torch-checkpoint.js';
import { COMPONENT_CONFIG_FILE, COMPONENT_WEIGHTS_FILE } from './format.js';

/** Weights files a source may name directly. */
export const WEIGHTS_FILE_PATTERN = /\.(safetensors|pt|pth|bin|ckpt)$/i;
const TORCH_FILE = /\.(pt|pth|bin|ckpt)$/i;

export interface OpenComponentOptions extends HubOptions {
  /** Use this config instead of reading config.json (e.g. an upstream `.pt` published without one). */
  config?: Record<string, unknown>;
  /** The weights file inside the source (default: the file the source names, else model.safetensors). */
  weightsFile?: string;
}

/** An opened component: config.json and lazy access to the rest. Nothing is downloaded until asked. */
export interface OpenedComponent {
  /** Where it comes from (folder, URL, hub id), for messages. */
  readonly source: string;
  /** config.json as parsed (or the `config` option). */
  readonly config: Record<string, unknown>;
  /** The weights file: named by the source or options, else model.safetensors. */
  readonly weightsFile: string;
  /** Bytes of a file of the component (ConfigError / HubError naming it when absent). */
  readFile(file: string): Promise<Uint8Array>;
  /** The weights as a TensorStore (safetensors, sharded safetensors, or a PyTorch checkpoint's tensors). Close it. */
  openWeights(file?: string): Promise<TensorStore>;
  /** A PyTorch checkpoint file unpickled (weights-only allowlist): for hooks that pick a sub-dict ('ema'). */
  readTorch(file?: string): Promise<TorchValue>;
}

/** What a reader-based component needs: a file by name (throwing when absent). */
export type ComponentFileReader = (file: string) => Promise<Uint8Array>;

function parseJson(bytes: Uint8Array, where: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new ConfigError(where, `is not valid JSON (${(e as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(where, 'is not a JSON object');
  return v as Record<string, unknown>;
}

/** Splits 'dir/ckpt.pt' (a local path or URL naming a weights file) into folder and file. */
export function splitComponentSource(source: string): { folder: string; file: string | null } {
  const s = source.trim().replace(/[\\/]+$/, '');
  const m = /^(.*)[\\/]([^\\/]+)$/.exec(s);
  if (m && WEIGHTS_FILE_PATTERN.test(m[2]) && m[1]) return { folder: m[1], file: m[2] };
  if (!m && WEIGHTS_FILE_PATTERN.test(s)) return { folder: '.', file: s };
  return { folder: s, file: null };
}

/** Opens a component from a local folder, a URL or a hub id (see the file header). */
export async function openComponent(source: string, opts: OpenComponentOptions = {}): Promise<OpenedComponent> {
  const { folder, file } = splitComponentSource(source);
  const { config: given, weightsFile, ...hub } = opts;
  const fetchFile = (f: string) => fetchModelFile(folder, f, hub);
  const name = folder;
  let config = given;
  if (!config) {
    const f = await fetchFile(COMPONENT_CONFIG_FILE);
    config = await readModelJson(f, name);
  }
  const weights = weightsFile ?? file ?? COMPONENT_WEIGHTS_FILE;
  return {
    source: name,
    config,
    weightsFile: weights,
    readFile: async (f) => (await fetchFile(f)).bytes(),
    openWeights: async (f = weights) => {
      if (f === COMPONENT_WEIGHTS_FILE) return loadWeights(folder, hub); // single or sharded (model.safetensors.index.json)
      const got = await fetchFile(f);
      if (TORCH_FILE.test(f)) return torchStateDictStore(await loadTorchCheckpoint(got.path ?? (await got.bytes())), '', `${name}/${f}`);
      return got.path ? openSafetensorsFile(got.path) : parseSafetensors(await got.bytes(), got.url ?? `${name}/${f}`);
    },
    readTorch: async (f = weights) => {
      const got = await fetchFile(f);
      return loadTorchCheckpoint(got.path ?? (await got.bytes()));
    },
  };
}

/**
 * Opens a component through a file reader (a browser app's fetch, an archive): `name` is used in
 * messages. The reader throws when a file is absent.
 */
export async function openComponentFiles(name: string, readFile: ComponentFileReader, opts: { config?: Record<string, unknown>; weightsFile?: string } = {}): Promise<OpenedComponent> {
  const where = (f: string) => `${name}/${f}`;
  const config = opts.config ?? parseJson(await readFile(COMPONENT_CONFIG_FILE), where(COMPONENT_CONFIG_FILE));
  const weights = opts.weightsFile ?? COMPONENT_WEIGHTS_FILE;
  return {
    source: name,
    config,
    weightsFile: weights,
    readFile,
    openWeights: async (f = weights) => {
      const bytes = await readFile(f);
      if (TORCH_FILE.test(f)) return torchStateDictStore(await loadTorchCheckpoint(bytes), '', where(f));
      if (!/\.safetensors$/i.test(f)) throw new WeightsFormatError(where(f), 'unknown weights format (expected .safetensors, .pt, .pth, .bin or .ckpt)');
      return parseSafetensors(bytes, where(f));
    },
    readTorch: async (f = weights) => loadTorchCheckpoint(await readFile(f)),
  };
}
