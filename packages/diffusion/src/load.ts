// Loading and saving LightningDiT weights: a component folder (@fae/core's format: config.json with
// upstream's constructor arguments + model.safetensors with upstream keys), or an upstream PyTorch
// checkpoint (.pt) as train.py writes it ({'model', 'ema', 'opt', ...}: the EMA weights are used when
// present, as upstream inference.py does).
import {
  WeightsFormatError, encodeComponent, isComponentConfigJson, loadComponent, loadTorchCheckpoint, openComponent, torchStateDictStore,
  type ByteSource, type HubOptions, type LoadReport, type TensorStore, type TorchValue,
} from '@fae/core';
import { lightningDiTConfig, lightningDiTConfigFromJson, type LightningDiTConfig } from './config.js';
import { LightningDiT } from './lightningdit.js';

export interface LoadLightningDiTOptions {
  /** Strict state-dict loading (default true): every missing, unexpected or mis-shaped key is an error. */
  strict?: boolean;
}

/**
 * A full config from any stored form: an FAE component config.json ({"class", "config"}), upstream's
 * flat snake_case arguments (optionally with "class"), or a camelCase partial config.
 */
export function lightningDiTConfigOf(config: Record<string, unknown> | LightningDiTConfig | Partial<LightningDiTConfig>, source = 'LightningDiT config'): LightningDiTConfig {
  if (isComponentConfigJson(config)) config = config.config;
  const isSnake = Object.keys(config).some((k) => k.includes('_') || k === 'class');
  return isSnake ? lightningDiTConfigFromJson(config as Record<string, unknown>, source) : lightningDiTConfig(config as Partial<LightningDiTConfig>, source);
}

/** A model from a config (upstream JSON or camelCase) and a TensorStore with upstream keys. */
export async function lightningDiTFromStore(
  config: Record<string, unknown> | Partial<LightningDiTConfig>, store: TensorStore, opts: LoadLightningDiTOptions & { prefix?: string } = {},
): Promise<{ model: LightningDiT; report: LoadReport }> {
  const model = new LightningDiT(lightningDiTConfigOf(config, `${store.source} config`));
  try {
    const report = await model.loadStateDict(store, { strict: opts.strict ?? true, prefix: opts.prefix });
    return { model, report };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/**
 * From a local folder, an http(s) folder or a hub id holding config.json + model.safetensors, or an
 * upstream `.pt` beside a config.json ('dir/ckpt.pt'); loadComponent(source, { expectClass: 'LightningDiT' }).
 * `strict: false` tolerates missing and unexpected keys (shapes are always checked).
 */
export async function loadLightningDiT(source: string, opts: LoadLightningDiTOptions & HubOptions = {}): Promise<LightningDiT> {
  const { strict, ...hub } = opts;
  if (strict ?? true) return loadComponent<LightningDiT>(source, { ...hub, expectClass: 'LightningDiT' });
  const opened = await openComponent(source, hub);
  const store = await opened.openWeights();
  try {
    return (await lightningDiTFromStore(opened.config, store, { strict: false })).model;
  } finally {
    await store.close?.();
  }
}

export interface TorchCheckpointOptions extends LoadLightningDiTOptions {
  /** Which weights of a training checkpoint: 'ema' (default when present) or 'model'. */
  which?: 'ema' | 'model';
}

/** The state dict inside an upstream checkpoint: ckpt[which] or ckpt.ema, else the object itself; 'module.' stripped. */
export function lightningDiTStateDictStore(ckpt: TorchValue, opts: { which?: 'ema' | 'model'; source?: string } = {}): TensorStore {
  const source = opts.source ?? 'torch checkpoint';
  if (typeof ckpt !== 'object' || ckpt === null || Array.isArray(ckpt)) throw new WeightsFormatError(source, 'expected a dict (a state dict or {model, ema, ...})');
  const dict = ckpt as Record<string, TorchValue>;
  let sd: TorchValue = dict;
  if (opts.which) {
    if (!(opts.which in dict)) throw new WeightsFormatError(source, `no '${opts.which}' entry (top-level keys: ${Object.keys(dict).slice(0, 10).join(', ')})`);
    sd = dict[opts.which];
  } else if ('ema' in dict) sd = dict.ema;
  else if ('model' in dict && typeof dict.model === 'object') sd = dict.model;
  const store = torchStateDictStore(sd, '', source);
  const stripped = store.keys().every((k) => k.startsWith('module.'));
  return stripped ? torchStateDictStore(Object.fromEntries(Object.entries(sd as Record<string, TorchValue>).map(([k, v]) => [k.slice(7), v])), '', source) : store;
}

/** A model from an upstream PyTorch checkpoint (.pt bytes, a path in Node, or a ByteSource) and its config. */
export async function lightningDiTFromTorchCheckpoint(
  config: Record<string, unknown> | Partial<LightningDiTConfig>, input: Uint8Array | string | ByteSource, opts: TorchCheckpointOptions = {},
): Promise<{ model: LightningDiT; report: LoadReport }> {
  const source = typeof input === 'string' ? input : input instanceof Uint8Array ? 'checkpoint.pt' : input.name;
  const ckpt = await loadTorchCheckpoint(input);
  return lightningDiTFromStore(config, lightningDiTStateDictStore(ckpt, { which: opts.which, source }), opts);
}

/** config.json text and model.safetensors bytes (upstream keys and layouts) of a model: @fae/core's encodeComponent. */
export async function exportLightningDiT(model: LightningDiT): Promise<{ configJson: string; weights: Uint8Array }> {
  return encodeComponent(model);
}

