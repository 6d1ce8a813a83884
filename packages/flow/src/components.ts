// Registers TarFlow (TARFlow and STARFlow: one class, STARFlow's options in its config) with @fae/core's
// component registry (a side effect of importing the package), plus folder save/load helpers.
// The stored config is our camelCase TarFlowConfig; upstream's snake_case constructor arguments
// ({"class": "TarFlow", "in_channels": ...}, apple/ml-tarflow's names) load too.
import { loadComponent, registerComponent, saveComponent, type HubOptions } from '@fae/core';
import { configFromUpstream, type TarFlowConfig } from './config.js';
import { TarFlow } from './tarflow.js';

export const TARFLOW_CLASS = 'TarFlow';

/** Our config from either stored form (camelCase TarFlowConfig or upstream snake_case arguments). */
export function tarFlowConfigOf(json: Record<string, unknown> | TarFlowConfig, where = 'config.json'): TarFlowConfig {
  const snake = Object.keys(json).some((k) => k.includes('_'));
  return snake ? configFromUpstream(json as Record<string, unknown>, where) : (json as TarFlowConfig);
}

registerComponent(TARFLOW_CLASS, {
  type: TarFlow,
  create: (config: Record<string, unknown> | TarFlowConfig, where) => new TarFlow(tarFlowConfigOf(config, where)),
  configOf: (m: TarFlow) => {
    const { seed: _seed, ...c } = m.config;
    return c;
  },
});

/** Writes a TarFlow / STARFlow component folder (config.json + model.safetensors, upstream keys), atomically. */
export function saveTarFlow(model: TarFlow, dir: string, metadata: Record<string, string> = {}): Promise<void> {
  return saveComponent(dir, model, { metadata });
}

/** Loads a TarFlow / STARFlow from a folder, an http(s) URL of a folder or a hub id (strict weights). */
export function loadTarFlow(source: string, opts: HubOptions = {}): Promise<TarFlow> {
  return loadComponent<TarFlow>(source, { ...opts, expectClass: TARFLOW_CLASS });
}
