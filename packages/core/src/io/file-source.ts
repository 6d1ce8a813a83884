// Node-only file access for the weights readers and writers: a ByteSource over a file handle (reads
// only the byte ranges asked for) and atomic writes (temp file + rename). `node:fs` is imported
// dynamically, through a variable specifier, so browser bundles of @fae/core never resolve it; these
// functions throw a clear error when called outside Node.
import { WeightsFormatError } from '../errors.js';
import { checkRange, type ByteSource } from './byte-source.js';

type FsPromises = typeof import('node:fs/promises');
type FileHandle = import('node:fs/promises').FileHandle;

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

async function importNode<T>(specifier: string): Promise<T> {
  return import(/* @vite-ignore */ specifier) as Promise<T>;
}

/**
 * The part of node:fs/promises that FAE's packages use through {@link nodeFs}, declared here so that
 * the public types do not need @types/node.
 */
export interface NodeFs {
  readFile(path: string): Promise<Uint8Array>;
  readFile(path: string, encoding: 'utf8'): Promise<string>;
  writeFile(path: string, data: Uint8Array | string): Promise<void>;
  mkdir(path: string, opts?: { recursive?: boolean }): Promise<string | undefined>;
  readdir(path: string): Promise<string[]>;
  rename(from: string, to: string): Promise<void>;
  rm(path: string, opts?: { recursive?: boolean; force?: boolean }): Promise<void>;
}

async function fsPromises(what: string): Promise<FsPromises> {
  if (!isNode) throw new WeightsFormatError(what, 'reading or writing local files needs Node.js (in a browser, pass bytes or a URL)');
  return importNode<FsPromises>('node:fs/promises');
}

/** node:fs/promises, or an error naming `what` when not in Node. */
export async function nodeFs(what: string): Promise<NodeFs> {
  return fsPromises(what);
}

/** A ByteSource over a local file: reads exactly the requested ranges with positioned reads. */
export class FileSource implements ByteSource {
  private closed = false;
  private constructor(readonly name: string, readonly size: number, private readonly fh: FileHandle) {}

  static async open(path: string): Promise<FileSource> {
    const fs = await fsPromises(path);
    let fh: FileHandle;
    try {
      fh = await fs.open(path, 'r');
    } catch (e) {
      throw new WeightsFormatError(path, `cannot open: ${(e as Error).message}`, e);
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new WeightsFormatError(path, 'is not a regular file');
      return new FileSource(path, st.size, fh);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (this.closed) throw new WeightsFormatError(this.name, 'read after close()');
    checkRange(this, offset, length);
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.fh.read(out, done, length - done, offset + done);
      if (bytesRead === 0) throw new WeightsFormatError(this.name, `file shrank while reading: got ${done} of ${length} bytes at offset ${offset}`);
      done += bytesRead;
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close();
  }
}

/** Opens a local file as a ByteSource (Node only). Close it when done. */
export function openFileSource(path: string): Promise<FileSource> {
  return FileSource.open(path);
}

/** Reads a whole local file (Node only). */
export async function readLocalFile(path: string): Promise<Uint8Array> {
  const fs = await fsPromises(path);
  try {
    const b = await fs.readFile(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    throw new WeightsFormatError(path, `cannot read: ${(e as Error).message}`, e);
  }
}

/** Whether the process that wrote a temp file is gone (this host's process ids; our own is alive). */
export function writerGone(pid: number): boolean {
  if (!isNode || !Number.isSafeInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Temp files older than this are orphans whatever their process id says. */
export const STALE_TEMP_MS = 24 * 3600 * 1000;

/**
 * Removes temp files in `dir` that `pidOf` recognises (it returns the writer's process id, or null for
 * other files) whose writer is gone or which are older than STALE_TEMP_MS: what a crash (kill -9, power
 * loss) left behind. Returns the names removed. Never throws (a race with another cleaner is fine).
 */
export async function removeOrphanTemps(dir: string, pidOf: (name: string) => number | null): Promise<string[]> {
  const fs = await fsPromises(dir);
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  const now = Date.now();
  for (const n of names) {
    const pid = pidOf(n);
    if (pid === null) continue;
    try {
      const st = await fs.stat(`${dir}/${n}`);
      if (writerGone(pid) || now - st.mtimeMs > STALE_TEMP_MS) {
        await fs.rm(`${dir}/${n}`, { force: true });
        removed.push(n);
      }
    } catch {
      // raced with another process: fine
    }
  }
  return removed;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Writes a file atomically: the chunks go to `<path>.<pid>-<random>.tmp` beside it, which is fsynced and
 * renamed over `path`; on any failure the temp file is removed and `path` is untouched.
 * `chunks` may be produced lazily (an async iterable), so large files are never held whole.
 */
export async function writeFileAtomic(path: string, chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<number> {
  const fs = await fsPromises(path);
  const slash = path.lastIndexOf('/');
  const dir = slash < 0 ? '.' : path.slice(0, slash) || '/';
  const base = path.slice(slash + 1);
  // Temp files of earlier writes of this path whose process died (kill -9) are removed first.
  const mine = new RegExp(`^${escapeRe(base)}\\.(\\d+)-[a-z0-9]+\\.tmp$`);
  await removeOrphanTemps(dir, (n) => {
    const m = mine.exec(n);
    return m ? Number(m[1]) : null;
  });
  const tmp = `${path}.${isNode ? process.pid : 0}-${Math.random().toString(36).slice(2, 10)}.tmp`;
  let fh: FileHandle | undefined;
  let written = 0;
  try {
    fh = await fs.open(tmp, 'wx');
    for await (const c of chunks) {
      let p = 0;
      while (p < c.byteLength) {
        const { bytesWritten } = await fh.write(c, p, c.byteLength - p);
        p += bytesWritten;
      }
      written += c.byteLength;
    }
    await fh.sync();
    await fh.close();
    fh = undefined;
    await fs.rename(tmp, path);
    return written;
  } catch (e) {
    if (fh) await fh.close().catch(() => {});
    await fs.rm(tmp, { force: true }).catch(() => {});
    if (e instanceof WeightsFormatError) throw e;
    throw new WeightsFormatError(path, `cannot write: ${(e as Error).message}`, e);
  }
}
