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

/** Expands each path: a fixture stays itself; a folder of fixtures becomes its fixtures (index.json order when present). */
export function expandFixtureDirs(paths: string[]): { fixtures: ExpandedFixture[]; missing: string[] } {
  const fixtures: ExpandedFixture[] = [];
  const missing: string[] = [];
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
      try {
        const listed = JSON.parse(readFileSync(index, 'utf8'));
        if (Array.isArray(listed)) order = [...listed.filter((n) => typeof n === 'string' && subdirs.includes(n)), ...subdirs.filter((n) => !listed.includes(n))];
      } catch {
        /* an unreadable index falls back to the folder listing */
      }
    }
    for (const s of order) visit(join(dir, s), depth + 1);
  };
  for (const p of paths) {
    const dir = resolve(p);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) missing.push(p);
    else visit(dir, 0);
  }
  return { fixtures, missing };
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

/** max|a-b| and max|a-b| / max|b| over two equally long arrays (b is the reference); NaN counts as Infinity. */
export function errorStats(a: ArrayLike<number | bigint>, b: ArrayLike<number | bigint>): { maxAbs: number; rel: number } {
  if (a.length !== b.length) return { maxAbs: Infinity, rel: Infinity };
  let maxAbs = 0;
  let maxRef = 0;
  for (let i = 0; i < a.length; i++) {
    const x = Number(a[i]);
    const y = Number(b[i]);
    const d = Object.is(x, y) ? 0 : Math.abs(x - y);
    if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? Infinity : d;
    maxRef = Math.max(maxRef, Math.abs(y));
  }
  return { maxAbs, rel: maxRef === 0 ? maxAbs : maxAbs / maxRef };
}
