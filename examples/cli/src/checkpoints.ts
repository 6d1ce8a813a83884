// Component checkpoints: one folder per component holding `config.json` + `model.safetensors`
// (PyTorch key names and layouts, as every @fae model saves them). Written atomically (temp file then
// rename). Read from a local folder, an http(s) URL of a folder, or a hub id (`org/name`), the last
// two through @fae/core's hub functions (download cache, progress, integrity checks).
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeSafetensors, fetchModelFile, parseSafetensors, type HubOptions, type Module, type TensorStore } from '@fae/core';
import { InputFileError } from './errors.js';

/** The checkpoints shipped with the example (trained by `fae train all`). */
export const SHIPPED_CHECKPOINTS = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'checkpoints');

/** Where a models source points. */
export type SourceKind = 'folder' | 'url' | 'hub';

export function sourceKind(source: string): SourceKind {
  if (/^https?:\/\//i.test(source)) return 'url';
  if (/^[A-Za-z0-9][\w.-]*\/[\w.-]+(@[\w./-]+)?$/.test(source) && !source.startsWith('.') && !source.includes('..')) {
    // `org/name` could also be a relative folder: a folder that exists wins.
    return 'hub';
  }
  return 'folder';
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/** Bytes of `<source>/<component>/<file>`, wherever the source is. */
export async function readComponentFile(source: string, component: string, file: string, onProgress?: (e: unknown) => void): Promise<Uint8Array> {
  const kind = (await isDir(source)) ? 'folder' : sourceKind(source);
  if (kind === 'folder') {
    const path = join(source, component, file);
    try {
      return new Uint8Array(await readFile(path));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (!(await isDir(source))) throw new InputFileError(source, 'models folder not found (give a folder with one sub-folder per component, a URL or a hub id)', e);
      throw new InputFileError(path, code === 'ENOENT' ? `missing: the models folder has no ${component}/${file} (train it with \`fae train ...\`)` : `cannot read (${code ?? (e as Error).message})`, e);
    }
  }
  // URL or hub id: @fae/core's hub resolves, downloads into its cache (progress events, sha256 checks).
  const got = await fetchModelFile(source, `${component}/${file}`, { onProgress: onProgress as HubOptions['onProgress'] });
  return got.bytes();
}

export interface LoadedComponent<C> {
  config: C;
  store: TensorStore;
}

/** Reads `config.json` and `model.safetensors` of a component. */
export async function readComponent<C = Record<string, unknown>>(source: string, component: string): Promise<LoadedComponent<C>> {
  const configBytes = await readComponentFile(source, component, 'config.json');
  let config: C;
  try {
    config = JSON.parse(new TextDecoder().decode(configBytes)) as C;
  } catch (e) {
    throw new InputFileError(`${source}/${component}/config.json`, `not valid JSON (${(e as Error).message})`, e);
  }
  const weights = await readComponentFile(source, component, 'model.safetensors');
  const store = parseSafetensors(weights, `${source}/${component}/model.safetensors`);
  return { config, store };
}

async function writeAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, bytes);
  await rename(tmp, path);
}

/** Writes `<dir>/<component>/{config.json, model.safetensors}` from a module's state dict. */
export async function saveComponent(dir: string, component: string, module: Module, config: object, metadata: Record<string, string> = {}): Promise<string> {
  const folder = join(dir, component);
  await mkdir(folder, { recursive: true });
  const sd = await module.stateDict();
  await writeAtomic(join(folder, 'model.safetensors'), encodeSafetensors(sd, { format: 'pt', ...metadata }));
  await writeAtomic(join(folder, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  return folder;
}

/** Writes a JSON file atomically (metrics, training logs). */
export async function saveJson(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}
