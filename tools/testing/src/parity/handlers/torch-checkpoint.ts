// Parity handler for torch.save checkpoints (fixture generators/torch_checkpoint): a `.pt`/`.pth` zip
// beside `expected.safetensors` (every tensor materialised: half types as float32, bool as uint8) and
// `meta.json` (torch dtype names per tensor, plain values). Every tensor must match exactly.
import { join } from 'node:path';
import { loadTorchCheckpoint, openSafetensorsFile, torchTensors, type TorchTensor } from '@fae/core';
import { errorStats, fileStartsWith } from '../fixture-files.js';
import type { FixtureFiles, ParityHandler, ParityOutput } from '../types.js';

const checkpointFile = (f: FixtureFiles) => f.files.find((n) => /\.(pt|pth)$/i.test(n) && fileStartsWith(join(f.dir, n), [0x50, 0x4b, 0x03, 0x04]));

function exact(name: string, maxAbs: number, rel: number, note?: string): ParityOutput {
  return { name, maxAbs, rel, tol: 0, pass: maxAbs === 0, note };
}

function deepEqual(a: unknown, b: unknown, depth = 0): boolean {
  if (depth > 64) return false;
  if (Object.is(a, b)) return true;
  if (typeof a === 'bigint' || typeof b === 'bigint') return typeof a !== 'object' && typeof b !== 'object' && Number(a) === Number(b);
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a), kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], depth + 1));
}

export const torchCheckpointHandler: ParityHandler = {
  name: 'torch_checkpoint',
  detect: (f) => f.files.includes('expected.safetensors') && !!checkpointFile(f),
  async run(f) {
    const ckpt = await loadTorchCheckpoint(join(f.dir, checkpointFile(f)!));
    const tensors = torchTensors(ckpt);
    const expected = await openSafetensorsFile(join(f.dir, 'expected.safetensors'));
    const out: ParityOutput[] = [];
    try {
      for (const key of expected.keys()) {
        const t = tensors.get(key);
        if (!t) {
          out.push(exact(key, Infinity, Infinity, 'missing from the loaded checkpoint'));
          continue;
        }
        const info = expected.info(key)!;
        if (info.shape.join(',') !== t.shape.join(',')) {
          out.push(exact(key, Infinity, Infinity, `shape [${t.shape}] vs expected [${info.shape}]`));
          continue;
        }
        const { maxAbs, rel } = errorStats(t.data, await expected.read(key));
        out.push(exact(key, maxAbs, rel));
      }
      for (const key of tensors.keys()) if (!expected.info(key)) out.push(exact(key, Infinity, Infinity, 'not in expected.safetensors'));
    } finally {
      await expected.close();
    }
    // meta.json: torch dtype names by tensor name (any nesting), and plain values saved beside the tensors.
    const meta = f.meta ?? {};
    const dtypes = (meta.dtypes ?? {}) as Record<string, string>;
    for (const [leaf, want] of Object.entries(dtypes)) {
      const hits: Array<[string, TorchTensor]> = [...tensors].filter(([k]) => k === leaf || k.endsWith(`.${leaf}`));
      const wrong = hits.filter(([, t]) => t.torchDtype !== want);
      out.push(exact(`dtype ${leaf}`, hits.length && !wrong.length ? 0 : 1, hits.length && !wrong.length ? 0 : 1,
        !hits.length ? 'no such tensor' : wrong.length ? `${wrong[0][1].torchDtype} vs ${want}` : undefined));
    }
    if (ckpt && typeof ckpt === 'object' && !Array.isArray(ckpt)) {
      for (const [k, want] of Object.entries(meta)) {
        if (k === 'dtypes' || !(k in ckpt)) continue;
        const ok = deepEqual((ckpt as Record<string, unknown>)[k], want);
        out.push(exact(`value ${k}`, ok ? 0 : 1, ok ? 0 : 1, ok ? undefined : `${JSON.stringify((ckpt as Record<string, unknown>)[k], (_, v) => (typeof v === 'bigint' ? String(v) : v))} vs ${JSON.stringify(want)}`));
      }
    }
    return out;
  },
};
