// node:fs/promises for the pipeline's Node-only parts (datasets on disk, caches, training folders),
// and the JSON files they keep (indexes, progress, manifests). node:fs is imported lazily, so the
// browser build (whose Node builtins are stubs) loads; called outside Node it throws a ConfigError
// naming what needed the file system.
import { ConfigError, writeFileAtomic } from '@fae/core';

type FsPromises = typeof import('node:fs/promises');

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

export async function nodeFsPromises(what: string): Promise<FsPromises> {
  if (!isNode) throw new ConfigError(what, 'reading or writing local files needs Node.js (in a browser, load from a URL)');
  return import('node:fs/promises');
}

/** The JSON in `path`, or null where the file is missing or unreadable (a run that has not written it yet). */
export async function readJsonOrNull<T>(path: string): Promise<T | null> {
  const fs = await nodeFsPromises(path);
  try {
    return JSON.parse(await fs.readFile(path, 'utf8')) as T;
  } catch {
    return null;
  }
}

/** Writes `value` as indented JSON, atomically (temp file, then rename). */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, [new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`)]);
}

/** Whether two JSON-able values serialise alike (recipe, cache and shard metadata checks). */
export const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
