// Reading fixture directories for the parity runner: which directories are fixtures (a directory of
// fixtures, with or without index.json, expands to them) and the FixtureFiles a handler's detect()
// sees. Plain node:fs, no vitest and no @fae packages, so the CLI can load it before anything else.
import { existsSync, openSync, readSync, closeSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { FixtureFiles } from './types.js';

/** Files whose presence makes a directory a fixture (rather than a folder of fixtures). */
const FIXTURE_MARKERS = ['config.json', 'meta.json', 'io.safetensors', 'model.safetensors', 'weights.json'];

export interface ExpandedFixture {
  dir: string;
  /** Short display name: '<parent>/<folder>'. */
  label: string;
}

/**
 * Expands each path: a fixture stays itself; a folder of fixtures becomes its fixtures (index.json
 * order when present). `missing` holds the paths that are not directories; `indexErrors` each name an
 * index.json lists without a folder of that name, and each index.json that is not a JSON array of
 * names (both fail the run: a fixture must not disappear silently).
 */
export function expandFixtureDirs(paths: string[]): { fixtures: ExpandedFixture[]; missing: string[]; indexErrors: string[] } {
  const fixtures: ExpandedFixture[] = [];
  const missing: string[] = [];
  const indexErrors: string[] = [];
  const visit = (dir: string, depth: number) => {
    const files = readdirSync(dir, { withFileTypes: true });
    const isFixture = files.some((f) => f.isFile() && FIXTURE_MARKERS.includes(f.name));
    const subdirs = files.filter((f) => f.isDirectory()).map((f) => f.name).sort();
    if (isFixture || subdirs.length === 0 || depth > 4) {
      fixtures.push({ dir, label: `${basename(dirname(dir))}/${basename(dir)}` });
      return;
    }
    let order = subdirs;
    const index = join(dir, 'index.json');
    if (existsSync(index)) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(readFileSync(index, 'utf8'));
      } catch (e) {
        indexErrors.push(`${index}: not valid JSON (${(e as Error).message})`);
      }
      const listed = Array.isArray(parsed) && parsed.every((n) => typeof n === 'string') ? (parsed as string[]) : undefined;
      if (parsed !== undefined && !listed) indexErrors.push(`${index}: expected a JSON array of folder names`);
      else if (listed) {
        for (const n of listed) if (!subdirs.includes(n)) indexErrors.push(`${join(dir, n)}: listed in ${index} but there is no such folder`);
        order = [...listed.filter((n) => subdirs.includes(n)), ...subdirs.filter((n) => !listed.includes(n))];
      }
    }
    for (const s of order) visit(join(dir, s), depth + 1);
  };
  for (const p of paths) {
    const dir = resolve(p);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) missing.push(p);
    else visit(dir, 0);
  }
  return { fixtures, missing, indexErrors };
}

/** Tensor names in a safetensors file, from its header only. */
export function safetensorsKeys(path: string): string[] {
  const fd = openSync(path, 'r');
  try {
    const size = statSync(path).size;
    const prefix = Buffer.alloc(8);
    if (size < 8 || readSync(fd, prefix, 0, 8, 0) !== 8) throw new Error(`${path}: too short for safetensors`);
    const n = Number(prefix.readBigUInt64LE(0));
    if (n > size - 8) throw new Error(`${path}: header length ${n} runs past the end of the file`);
    const header = Buffer.alloc(n);
    readSync(fd, header, 0, n, 8);
    return Object.keys(JSON.parse(header.toString('utf8'))).filter((k) => k !== '__metadata__');
  } finally {
    closeSync(fd);
  }
}

/** What a handler's detect() sees of a fixture directory. */
export function readFixtureFiles(dir: string): FixtureFiles {
  const files = readdirSync(dir, { withFileTypes: true }).filter((f) => f.isFile()).map((f) => f.name).sort();
  const json = (name: string) => (files.includes(name) ? (JSON.parse(readFileSync(join(dir, name), 'utf8')) as Record<string, unknown>) : undefined);
  const f: FixtureFiles = { dir, files, config: json('config.json'), meta: json('meta.json') };
  if (files.includes('io.safetensors')) f.ioKeys = safetensorsKeys(join(dir, 'io.safetensors'));
  return f;
}

/** True when the file starts with the given bytes (content-based detection). */
export function fileStartsWith(path: string, magic: number[]): boolean {
  try {
    const fd = openSync(path, 'r');
    try {
      const b = Buffer.alloc(magic.length);
      return readSync(fd, b, 0, magic.length, 0) === magic.length && magic.every((m, i) => b[i] === m);
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
}

export interface ErrorStats {
  /** max|a-b| over the compared elements (Infinity on any mismatch of NaN or of length). */
  maxAbs: number;
  /** maxAbs / max|b| (b is the reference; maxAbs itself where b is all zero). */
  rel: number;
  /** Elements where both are NaN and the caller said why that is expected (`nanWhy`). */
  nanMatched: number;
  /** Says so where nanMatched > 0. */
  note?: string;
}

/**
 * max|a-b| and max|a-b| / max|b| over two equally long arrays (b is the reference). A NaN is a
 * mismatch (Infinity) wherever it appears, with one exception: an element where the reference is NaN
 * too is skipped when the caller passes `nanWhy` (why the reference holds NaN there, e.g. "upstream's
 * sample overflowed"); such elements are counted and the note repeats the reason. Equal infinities
 * compare as 0 (an exact copy).
 */
export function errorStats(a: ArrayLike<number | bigint>, b: ArrayLike<number | bigint>, opts: { nanWhy?: string } = {}): ErrorStats {
  if (a.length !== b.length) return { maxAbs: Infinity, rel: Infinity, nanMatched: 0, note: `length ${a.length} vs reference ${b.length}` };
  let maxAbs = 0;
  let maxRef = 0;
  let nanMatched = 0;
  for (let i = 0; i < a.length; i++) {
    const x = Number(a[i]);
    const y = Number(b[i]);
    if (Number.isNaN(x) || Number.isNaN(y)) {
      if (Number.isNaN(x) && Number.isNaN(y) && opts.nanWhy) nanMatched++;
      else maxAbs = Infinity;
      continue;
    }
    const d = x === y ? 0 : Math.abs(x - y);
    if (d > maxAbs) maxAbs = d;
    if (Number.isFinite(y)) maxRef = Math.max(maxRef, Math.abs(y));
  }
  const note = nanMatched ? `${nanMatched} NaN element(s) match reference NaN: ${opts.nanWhy}` : undefined;
  return { maxAbs, rel: maxRef === 0 ? maxAbs : maxAbs / maxRef, nanMatched, ...(note ? { note } : {}) };
}
