// The example's models folder: one sub-folder per component in @fae/core's component format
// (config.json {"class", "fae_format", "config"} + model.safetensors with PyTorch key names), read
// from a local folder, an http(s) URL of a folder, or a hub id (`org/name`), the last two through
// @fae/core's hub functions (download cache, progress, integrity checks). Writes are atomic.
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fetchModelFile, saveComponent as saveComponentFolder, type HubOptions, type Module } from '@fae/core';
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

/** Training notes as string metadata (config.json "metadata" and the safetensors header). */
function notesAsMetadata(notes: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(notes ?? {})) if (v !== undefined) out[k] = typeof v === 'string' ? v : JSON.stringify(v);
  return out;
}

/**
 * Writes `<dir>/<component>` with @fae/core's saveComponent (atomic folder). `info` may carry training
 * notes (`trained`, the encoder's `fae_pretraining`); they become string metadata. The class and
 * config come from the component registry.
 */
export async function saveComponent(dir: string, component: string, module: Module, info: object = {}, metadata: Record<string, string> = {}): Promise<string> {
  const folder = join(dir, component);
  const { trained, fae_pretraining } = info as { trained?: Record<string, unknown>; fae_pretraining?: string };
  const notes = { ...notesAsMetadata(trained), ...(fae_pretraining ? { pretraining: fae_pretraining } : {}), ...metadata };
  await saveComponentFolder(folder, module, { metadata: notes });
  return folder;
}

async function writeAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, bytes);
  await rename(tmp, path);
}

/** Writes a JSON file atomically (metrics, training logs). */
export async function saveJson(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}
