// The FAE component format: one folder per component.
//   config.json        {"class": "<registered name>", "fae_format": 1, "config": {...constructor config}}
//                      (+ optional "metadata": {string: string}, free-form notes such as training steps)
//   model.safetensors  the state dict under the reference PyTorch key names and layouts
// Upstream layouts (a Hugging Face config.json with "model_type", a LightningDiT / RAE `.pt`) have no
// "class": the registry's detect hooks recognise them (see registry.ts).
import { ConfigError } from '../errors.js';

export const COMPONENT_CONFIG_FILE = 'config.json';
export const COMPONENT_WEIGHTS_FILE = 'model.safetensors';
/** Version of the config.json layout written by saveComponent. */
export const COMPONENT_FORMAT_VERSION = 1;

/** config.json of an FAE component, as written by saveComponent. */
export interface ComponentConfigJson<C extends object = Record<string, unknown>> {
  /** The registered component name (registerComponent). */
  class: string;
  fae_format: number;
  /** The constructor config of the class. */
  config: C;
  /** Free-form string notes (training steps, data); also copied into the safetensors header. */
  metadata?: Record<string, string>;
}

/** True for an FAE component config.json (a "class" string and a "config" object). */
export function isComponentConfigJson(json: unknown): json is ComponentConfigJson {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return false;
  const j = json as Record<string, unknown>;
  return typeof j.class === 'string' && typeof j.config === 'object' && j.config !== null && !Array.isArray(j.config);
}

/**
 * Validates an FAE component config.json (ConfigError naming `where` when it is not one this library
 * reads). The layout @fae/adapter 0.0 wrote (the config fields beside "class", no "config") is read too.
 */
export function checkComponentConfigJson(json: Record<string, unknown>, where: string): ComponentConfigJson {
  if (typeof json.class === 'string' && json.config === undefined) {
    const { class: cls, fae_format: fmt, ...rest } = json;
    json = { class: cls, fae_format: fmt, config: rest };
  }
  if (!isComponentConfigJson(json)) {
    throw new ConfigError(where, `expected {"class": "<name>", "fae_format": ${COMPONENT_FORMAT_VERSION}, "config": {...}}, found keys ${JSON.stringify(Object.keys(json))}`);
  }
  const fmt = json.fae_format ?? COMPONENT_FORMAT_VERSION;
  if (typeof fmt !== 'number' || !Number.isInteger(fmt) || fmt < 1) throw new ConfigError(where, `fae_format must be a positive integer, got ${JSON.stringify(fmt)}`);
  if (fmt > COMPONENT_FORMAT_VERSION) {
    throw new ConfigError(where, `fae_format ${fmt} is newer than this library reads (${COMPONENT_FORMAT_VERSION}); upgrade @fae/core`);
  }
  if (json.metadata !== undefined) {
    const m = json.metadata;
    if (typeof m !== 'object' || m === null || Array.isArray(m) || Object.values(m).some((v) => typeof v !== 'string')) {
      throw new ConfigError(where, '"metadata" must be an object of strings');
    }
  }
  return json;
}
