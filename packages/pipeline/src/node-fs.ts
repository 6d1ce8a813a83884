// node:fs/promises for the pipeline's Node-only parts (datasets on disk, caches, training folders).
// Imported lazily, so the browser build (whose Node builtins are stubs) loads; called outside Node it
// throws a ConfigError naming what needed the file system.
import { ConfigError } from '@fae/core';

type FsPromises = typeof import('node:fs/promises');

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

export async function nodeFsPromises(what: string): Promise<FsPromises> {
  if (!isNode) throw new ConfigError(what, 'reading or writing local files needs Node.js (in a browser, load from a URL)');
  return import('node:fs/promises');
}
