// Where a model comes from: a local directory, an http(s) URL of a folder, or a hub repo id
// (`org/name`, optional `@revision`) resolved like Hugging Face: `${endpoint}/${id}/resolve/${rev}/${file}`.
import { ConfigError } from '../errors.js';
import { envVar } from './env.js';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

export type ModelSource =
  | { kind: 'local'; dir: string; name: string }
  | { kind: 'url'; base: string; name: string }
  | { kind: 'hub'; id: string; revision: string; endpoint: string; name: string };

export interface SourceOptions {
  /** Hub revision (branch, tag or commit); `org/name@rev` in the source wins. Default 'main'. */
  revision?: string;
  /** Hub endpoint; default env FAE_HUB_ENDPOINT, then HF_ENDPOINT, then https://huggingface.co. */
  endpoint?: string;
}

const HUB_ID = /^([A-Za-z0-9][\w.-]*)\/([\w.-]+)(?:@(.+))?$/;

/**
 * Classifies `source`. http(s):// -> URL; file://, absolute, ./ or ../ paths, or an existing local
 * directory (`localDirExists`) -> local; `org/name[@rev]` -> hub. Anything else is a ConfigError.
 */
export function parseSource(source: string, opts: SourceOptions = {}, localDirExists?: (p: string) => boolean): ModelSource {
  if (typeof source !== 'string' || !source.trim()) throw new ConfigError('model source', 'expected a directory, a URL or a hub id like "org/name"');
  const s = source.trim();
  if (/^https?:\/\//i.test(s)) {
    const base = s.replace(/\/+$/, '');
    return { kind: 'url', base, name: base };
  }
  if (/^file:\/\//i.test(s)) {
    const dir = decodeURIComponent(new URL(s).pathname).replace(/\/+$/, '') || '/';
    return { kind: 'local', dir, name: dir };
  }
  const pathLike = s.startsWith('/') || s.startsWith('./') || s.startsWith('../') || s === '.' || s === '..' || /^[A-Za-z]:[\\/]/.test(s);
  if (pathLike || localDirExists?.(s)) {
    const dir = s.length > 1 ? s.replace(/[\\/]+$/, '') : s;
    return { kind: 'local', dir, name: dir };
  }
  const m = HUB_ID.exec(s);
  if (!m || m[1].includes('..') || m[2].includes('..')) {
    throw new ConfigError(s, 'not a local directory, an http(s) URL, or a hub id like "org/name" (optionally "org/name@revision")');
  }
  const revision = m[3] ?? opts.revision ?? 'main';
  if (!/^[\w.\/-]+$/.test(revision) || revision.split('/').some((p) => p === '' || p === '.' || p === '..')) {
    throw new ConfigError(s, `invalid revision '${revision}' (a branch, tag or commit hash)`);
  }
  const endpoint = (opts.endpoint ?? envVar('FAE_HUB_ENDPOINT') ?? envVar('HF_ENDPOINT') ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
  const id = `${m[1]}/${m[2]}`;
  return { kind: 'hub', id, revision, endpoint, name: revision === 'main' ? id : `${id}@${revision}` };
}

/** Validates a repo-relative file name ('config.json', 'onnx/model.onnx'): no '..', no absolute path. */
export function checkModelFileName(file: string): string {
  if (!file || file.startsWith('/') || file.includes('\\') || file.split('/').some((p) => p === '' || p === '.' || p === '..')) {
    throw new ConfigError(file || '(empty)', 'file name must be a relative path inside the model (no "..", no leading "/")');
  }
  return file;
}

/** URL of `file` for a remote source. */
export function modelFileUrl(src: ModelSource, file: string): string {
  const path = checkModelFileName(file).split('/').map(encodeURIComponent).join('/');
  if (src.kind === 'hub') return `${src.endpoint}/${src.id}/resolve/${encodeURIComponent(src.revision)}/${path}`;
  if (src.kind === 'url') return `${src.base}/${path}`;
  throw new ConfigError(src.name, 'a local directory has no URL');
}

/** Cache sub-directory of a remote source: `org/name/<revision>` or `url/<host>/<path>`. */
export function modelCacheSubdir(src: ModelSource): string {
  const safe = (p: string) => p.replace(/[^\w.-]/g, '_');
  if (src.kind === 'hub') return `${src.id}/${encodeURIComponent(src.revision).replace(/%/g, '_')}`;
  if (src.kind === 'url') {
    const u = new URL(src.base);
    const segs = u.pathname.split('/').filter(Boolean).map(safe);
    return ['url', safe(u.host), ...segs, ...(u.search ? [safe(u.search)] : [])].join('/');
  }
  throw new ConfigError(src.name, 'a local directory is not cached');
}
