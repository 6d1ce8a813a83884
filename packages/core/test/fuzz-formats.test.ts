// Seeded fuzzing with oracles, one run per format: valid files are mutated (truncation, bit flips, byte
// replacements, huge length fields, inserted/deleted runs, header-length shifts) and loaded. Each case is
//  - refused: a typed error (WeightsFormatError / ImageDecodeError), or
//  - loaded: then an oracle judges the result. A load the oracle rejects is a SILENT WRONG LOAD.
//  - untyped: any other error (TypeError, RangeError, ...); a hang: a case over HANG_MS.
// Oracles: safetensors = an independent validator written from the reference implementation's rules
// (load must succeed exactly when it accepts, with the bytes at its offsets); zip .pt / npz / PNG =
// content equal to the original (CRC-32 / Adler-32 make any other outcome a wrong load); pickle = CPython's
// pickle machine with the same allowlist (tools/testing/py/pickle_oracle.py) must accept it and build the
// same value; legacy torch.save, npy and JPEG (no checksums: a mutated byte can be a different valid
// file) = well-formed results (every tensor's data matches its shape, images their size) that are the
// same on a second load.
// Cases per format: FAE_FUZZ_CASES (default 300); FAE_FUZZ_REPORT=path writes the figures as JSON.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { weightsBuilders } from '@fae/testing';
import {
  DTYPE_BYTES, ImageDecodeError, WeightsFormatError, createRawImage, decodeImage, decodeTensorBytes, encodeJpeg, encodePng, encodeSafetensors,
  TORCH_WEIGHTS_ONLY_GLOBALS, TorchStorage, TorchTensor, loadTorchCheckpoint, openZip, parseSafetensors, readNpy, readNpz, shapeSize, torchTensors, writeNpy, writeNpz,
  type DType,
} from '@fae/core';

const { buildTorchCheckpoint, buildLegacyTorchCheckpoint, buildLegacyTarCheckpoint, tensorSpec, torchZip, seededRandom } = weightsBuilders;
const CASES = Number(process.env.FAE_FUZZ_CASES ?? 300);
const HANG_MS = 5000;

interface Stats { cases: number; refused: number; loadedCorrect: number; silentWrong: number; overStrict: number; untyped: number; hangs: number; maxMs: number; examples: string[] }
const report: Record<string, Stats> = {};
let pickleOracle = 'not run';

function mutator(seed: number) {
  const rnd = seededRandom(seed);
  const ri = (n: number) => Math.floor(rnd() * n);
  return (src: Uint8Array): Uint8Array => {
    const kind = ri(7);
    if (kind === 0) return src.subarray(0, ri(src.length)); // truncate
    const b = src.slice();
    if (kind === 1) { for (let k = 1 + ri(4); k > 0; k--) b[ri(b.length)] ^= 1 << ri(8); return b; } // bit flips
    if (kind === 2) { for (let k = 1 + ri(4); k > 0; k--) b[ri(b.length)] = ri(256); return b; } // byte replacements
    if (kind === 3) { const at = ri(b.length - 4); new DataView(b.buffer).setUint32(at, [0xffffffff, 0x7fffffff, 0x80000000, ri(2 ** 32)][ri(4)], true); return b; }
    if (kind === 4) { b[ri(Math.min(8, b.length))] += ri(2) ? 1 + ri(8) : -1 - ri(8); return b; } // a length prefix off by a few
    const at = ri(b.length); // insert or delete a run of bytes
    return ri(2) ? Uint8Array.from([...b.subarray(0, at), ...Array.from({ length: 1 + ri(8) }, () => ri(256)), ...b.subarray(at)]) : Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + 1 + ri(8))]);
  };
}

/** Runs one case. `load` returns the loaded value; `judge` returns null when correct, else why it is wrong. */
async function runCase<T>(stats: Stats, name: string, load: () => Promise<T> | T, judge: (v: T) => Promise<string | null> | string | null, mustLoad = false): Promise<void> {
  stats.cases++;
  const t0 = Date.now();
  let value: T;
  try {
    value = await load();
  } catch (e) {
    const ms = Date.now() - t0;
    stats.maxMs = Math.max(stats.maxMs, ms);
    if (ms > HANG_MS) stats.hangs++;
    if (mustLoad) {
      stats.overStrict++;
      if (stats.examples.length < 5) stats.examples.push(`${name}: refused a file the oracle accepts: ${(e as Error).message.slice(0, 160)}`);
    } else if (e instanceof WeightsFormatError || e instanceof ImageDecodeError) stats.refused++;
    else {
      stats.untyped++;
      if (stats.examples.length < 5) stats.examples.push(`${name}: untyped ${(e as Error)?.constructor?.name}: ${(e as Error)?.message?.slice(0, 160)}`);
    }
    return;
  }
  const ms = Date.now() - t0;
  stats.maxMs = Math.max(stats.maxMs, ms);
  if (ms > HANG_MS) stats.hangs++;
  const why = await judge(value);
  if (why === null) stats.loadedCorrect++;
  else {
    stats.silentWrong++;
    if (stats.examples.length < 5) stats.examples.push(`${name}: ${why}`);
  }
}

const newStats = (): Stats => ({ cases: 0, refused: 0, loadedCorrect: 0, silentWrong: 0, overStrict: 0, untyped: 0, hangs: 0, maxMs: 0, examples: [] });

// ---- the safetensors oracle: the reference implementation's rules, written independently ----------
const REF_DTYPES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };
type RefEntry = { name: string; dtype: string; begin: number; end: number };
function referenceSafetensors(b: Uint8Array): RefEntry[] | null {
  if (b.length < 8) return null;
  const n = new DataView(b.buffer, b.byteOffset).getBigUint64(0, true);
  if (n > 100_000_000n || 8n + n > BigInt(b.length)) return null;
  let header: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(b.subarray(8, 8 + Number(n)));
    if (!text.startsWith('{')) return null;
    header = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return null;
  const entries: RefEntry[] = [];
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.values(v).every((x) => typeof x === 'string')) return null;
      continue;
    }
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null || Array.isArray(e)) return null;
    if (typeof e.dtype !== 'string' || !(e.dtype in REF_DTYPES)) return null;
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) return null;
    const o = e.data_offsets;
    if (!Array.isArray(o) || o.length !== 2 || !o.every((x) => Number.isSafeInteger(x) && x >= 0) || o[1] < o[0]) return null;
    if ((o[1] - o[0]) !== (e.shape as number[]).reduce((p, d) => p * d, 1) * REF_DTYPES[e.dtype]) return null;
    entries.push({ name, dtype: e.dtype, begin: o[0], end: o[1] });
  }
  entries.sort((x, y) => x.begin - y.begin || x.end - y.end);
  let at = 0;
  for (const e of entries) {
    if (e.begin !== at) return null;
    at = e.end;
  }
  return at === b.length - 8 - Number(n) ? entries : null;
}

// ---- the pickle oracle: CPython's pickle machine, same allowlist, globals stubbed ----------------------
const ORACLE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'tools', 'testing', 'py', 'pickle_oracle.py');
const HAS_PYTHON = spawnSync('python3', ['--version']).status === 0;

/** CPython's verdict on each pickle: the simplified value, or null when it refuses. */
function cpythonPickles(pickles: Uint8Array[]): Array<{ ok: boolean; value?: unknown; error?: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'fae-pickle-oracle-'));
  pickles.forEach((b, i) => writeFileSync(join(dir, `${String(i).padStart(6, '0')}.pkl`), b));
  writeFileSync(join(dir, 'allow.json'), JSON.stringify([...TORCH_WEIGHTS_ONLY_GLOBALS]));
  const r = spawnSync('python3', [ORACLE, dir, join(dir, 'allow.json')], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`pickle oracle failed: ${r.stderr}`);
  return r.stdout.trim().split('\n').map((l) => JSON.parse(l));
}

/** Our loaded value in the oracle's simplified form. */
function simplifyOurs(v: unknown, depth = 0): unknown {
  if (depth > 200) return '…';
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : v === Infinity ? 'Infinity' : v === -Infinity ? '-Infinity' : v;
  if (typeof v === 'bigint') return `${v}n`;
  if (v instanceof TorchTensor) return { tensor: v.shape };
  if (v instanceof TorchStorage) return { storage: v.key };
  if (v instanceof Uint8Array) return { bytes: Array.from(v) };
  if (v instanceof Set) return { set: v.size };
  if (Array.isArray(v)) return v.map((x) => simplifyOurs(x, depth + 1));
  if (typeof v === 'object') return Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, simplifyOurs(x, depth + 1)]));
  return { object: typeof v };
}

// ---- well-formedness and equality helpers -----------------------------------------------------------
function tensorsOf(v: unknown): Map<string, { shape: number[]; data: unknown[] }> {
  const out = new Map<string, { shape: number[]; data: unknown[] }>();
  for (const [k, t] of torchTensors(v)) out.set(k, { shape: t.shape, data: Array.from(t.data as ArrayLike<number>) });
  return out;
}
function wellFormed(v: unknown): string | null {
  for (const [k, t] of torchTensors(v)) if (t.data.length !== shapeSize(t.shape)) return `tensor '${k}' holds ${t.data.length} values for shape [${t.shape}]`;
  return null;
}
const same = (a: unknown, b: unknown) => JSON.stringify(a, (_, x) => (typeof x === 'bigint' ? `${x}n` : Number.isNaN(x) ? 'NaN' : x)) === JSON.stringify(b, (_, x) => (typeof x === 'bigint' ? `${x}n` : Number.isNaN(x) ? 'NaN' : x));
function plainOf(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? `${x}n` : x && typeof x === 'object' && 'dtype' in x && 'shape' in x && 'data' in x ? { shape: x.shape, data: Array.from(x.data as ArrayLike<number>, (y) => (typeof y === 'bigint' ? `${y}n` : y)) } : x)));
}

// ---- the valid files -------------------------------------------------------------------------------
const f32 = (vals: number[]) => new Uint8Array(Float32Array.from(vals).buffer);
const SF = encodeSafetensors({
  'a.weight': { shape: [3, 4], data: Float32Array.from({ length: 12 }, (_, i) => i / 4) }, 'a.bias': { dtype: 'F16', shape: [4], data: Float32Array.of(1, 2, 3, 4) },
  ids: { shape: [2], data: BigInt64Array.of(1n, 2n) }, m: { dtype: 'BOOL', shape: [3], data: Uint8Array.of(1, 0, 1) }, e: { shape: [0], data: new Float32Array(0) },
}, { format: 'pt', note: 'x' });
const VALUE = { model: { w: tensorSpec('0', [3, 2], { stride: [1, 3] }), b: tensorSpec('1', [2]), l: [tensorSpec('0', [2], { offset: 4 })] }, step: 10, lr: 0.5, name: 'x' };
const STORAGES = { 0: { type: 'FloatStorage', bytes: f32([1, 2, 3, 4, 5, 6]) }, 1: { type: 'HalfStorage', bytes: Uint8Array.of(0, 60, 0, 64) } };
const PT = buildTorchCheckpoint(VALUE, STORAGES);
const NPZ = writeNpz({ mu: { shape: [3], data: Float64Array.of(1, 2, 3) }, sigma: { shape: [2, 2], data: Float32Array.of(1, 0, 0, 1) } }, { compress: true });
const NPY = writeNpy({ shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) });
const LEGACY = buildLegacyTorchCheckpoint(VALUE, STORAGES);
const LEGACY_TAR = buildLegacyTarCheckpoint(VALUE, STORAGES);
const IMG = createRawImage(24, 16, 3);
for (let i = 0; i < IMG.data.length; i++) IMG.data[i] = (i * 53) % 256;
const PNG = encodePng(IMG);
const JPG = encodeJpeg(IMG, 85);

describe(`fuzz with oracles: ${CASES} seeded mutations per format`, () => {
  it('safetensors: loads exactly when the reference rules accept, with the bytes at the offsets', async () => {
    const s = (report.safetensors = newStats());
    const mutate = mutator(1);
    for (let i = 0; i < CASES; i++) {
      const bad = mutate(SF);
      const ref = referenceSafetensors(bad);
      await runCase(s, `safetensors #${i}`, () => {
        const st = parseSafetensors(bad, 'fuzz.safetensors');
        return st;
      }, (st) => {
        if (!ref) return 'loaded a file the reference implementation refuses';
        const n = Number(new DataView(bad.buffer, bad.byteOffset).getBigUint64(0, true));
        for (const e of ref) {
          const want = decodeTensorBytes(bad.subarray(8 + n + e.begin, 8 + n + e.end), e.dtype as DType);
          if (!same(Array.from(st.readSync(e.name) as ArrayLike<number>), Array.from(want as ArrayLike<number>))) return `tensor '${e.name}' differs from the bytes at its offsets`;
        }
        return st.keys().length === ref.length ? null : 'tensor count differs from the header';
      }, ref !== null);
    }
  });

  it('zip .pt (CRC-32 verified): a load equals the original', async () => {
    const s = (report.pt_zip = newStats());
    const mutate = mutator(2);
    const want = plainOf(await loadTorchCheckpoint(PT));
    for (let i = 0; i < CASES; i++) {
      const bad = mutate(PT);
      await runCase(s, `pt #${i}`, () => loadTorchCheckpoint(bad), (v) => (same(plainOf(v), want) ? null : 'content differs from the original'));
    }
  });

  it('pickle (mutated data.pkl in a valid zip): CPython\'s pickle agrees with every load; results well-formed', async (ctx) => {
    const s = (report.pickle = newStats());
    const mutate = mutator(3);
    const pkl = await (await openZip(PT)).read('archive/data.pkl');
    const pickles = Array.from({ length: CASES }, () => mutate(pkl));
    if (!HAS_PYTHON && process.env.CI === 'true') throw new Error('python3 is required under CI for the pickle oracle');
    const verdicts = HAS_PYTHON ? cpythonPickles([pkl, ...pickles]) : null;
    if (verdicts) {
      // the oracle's teeth: CPython's value of the unmutated pickle equals ours
      expect(verdicts[0].ok).toBe(true);
      expect(simplifyOurs(await loadTorchCheckpoint(PT))).toEqual(verdicts[0].value);
    }
    const cpython = verdicts?.slice(1) ?? null;
    pickleOracle = cpython ? 'CPython pickle (same allowlist, globals stubbed)' : 'well-formedness only (no python3)';
    for (let i = 0; i < CASES; i++) {
      const bad = torchZip(pickles[i], STORAGES);
      await runCase(s, `pickle #${i}`, () => loadTorchCheckpoint(bad), async (v) => {
        const wf = wellFormed(v);
        if (wf) return wf;
        if (!cpython) return same(plainOf(v), plainOf(await loadTorchCheckpoint(bad))) ? null : 'not deterministic';
        const ref = cpython[i];
        if (!ref.ok) return `loaded a pickle CPython refuses (${ref.error})`;
        return same(simplifyOurs(v), ref.value) ? null : `differs from CPython's value: ${JSON.stringify(simplifyOurs(v)).slice(0, 120)} vs ${JSON.stringify(ref.value).slice(0, 120)}`;
      });
    }
    void ctx;
  });

  it('npz (deflated, CRC-32): a load equals the original', async () => {
    const s = (report.npz = newStats());
    const mutate = mutator(4);
    const want = plainOf([...(await readNpz(NPZ))]);
    for (let i = 0; i < CASES; i++) {
      const bad = mutate(NPZ);
      await runCase(s, `npz #${i}`, () => readNpz(bad, 'fuzz.npz'), (m) => (same(plainOf([...m]), want) ? null : 'content differs from the original'));
    }
  });

  it('npy: well-formed, deterministic results', async () => {
    const s = (report.npy = newStats());
    const mutate = mutator(9);
    for (let i = 0; i < CASES; i++) {
      const bad = mutate(NPY);
      await runCase(s, `npy #${i}`, () => readNpy(bad, 'fuzz.npy'), (a) => (a.data.length !== shapeSize(a.shape) ? `${a.data.length} values for shape [${a.shape}]`
        : same(plainOf(a), plainOf(readNpy(bad, 'fuzz.npy'))) ? null : 'not deterministic'));
    }
  });

  it('legacy torch.save, stream and tar formats: well-formed, deterministic results', async () => {
    for (const [name, file, seed] of [['legacy_stream', LEGACY, 5], ['legacy_tar', LEGACY_TAR, 6]] as const) {
      const s = (report[name] = newStats());
      const mutate = mutator(seed);
      for (let i = 0; i < CASES; i++) {
        const bad = mutate(file);
        await runCase(s, `${name} #${i}`, () => loadTorchCheckpoint(bad), async (v) => wellFormed(v) ?? (same(plainOf(v), plainOf(await loadTorchCheckpoint(bad))) ? null : 'not deterministic'));
      }
    }
  });

  it('PNG (chunk CRCs, Adler-32): a decode equals the original pixels', async () => {
    const s = (report.png = newStats());
    const mutate = mutator(7);
    for (let i = 0; i < CASES; i++) {
      const bad = mutate(PNG);
      await runCase(s, `png #${i}`, () => decodeImage(bad, 'fuzz.png'), (im) => (im.width === IMG.width && im.height === IMG.height && im.channels === 3 && same(Array.from(im.data), Array.from(IMG.data)) ? null : 'pixels differ from the original'));
    }
  });

  it('JPEG: well-formed images of the declared size within the pixel limit', async () => {
    const s = (report.jpeg = newStats());
    const mutate = mutator(8);
    for (let i = 0; i < CASES; i++) {
      const bad = mutate(JPG);
      await runCase(s, `jpeg #${i}`, () => decodeImage(bad, 'fuzz.jpg'), (im) => (im.data.length === im.width * im.height * 3 && im.width * im.height <= 100_000_000 ? null : `bad image ${im.width}x${im.height}, ${im.data.length} bytes`));
    }
  });

  it('no silent wrong loads, no untyped errors, no hangs in any format', () => {
    if (process.env.FAE_FUZZ_REPORT) writeFileSync(process.env.FAE_FUZZ_REPORT, JSON.stringify({ casesPerFormat: CASES, hangMs: HANG_MS, pickleOracle, formats: report }, null, 1));
    for (const [fmt, s] of Object.entries(report)) {
      expect(s.cases, fmt).toBe(CASES);
      expect(s.examples, fmt).toEqual([]);
      expect([s.silentWrong, s.untyped, s.hangs, s.overStrict], `${fmt}: silent wrong loads, untyped errors, hangs, over-strict refusals`).toEqual([0, 0, 0, 0]);
      expect(s.refused, `${fmt}: most mutations are refused`).toBeGreaterThan(CASES / 4);
    }
    void DTYPE_BYTES;
  });
});
