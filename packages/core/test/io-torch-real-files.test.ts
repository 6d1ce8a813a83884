// Checkpoints written by REAL torch.save (torch 2.11 on the GPU machine, 2026-12-07) in both container
// formats published weight files use: zip (the default since torch 1.6) and the legacy stream format
// (`_use_new_zipfile_serialization=False`, e.g. torch-fidelity's Inception weights). Made by
// tools/testing/py/make_torch_save_files.py, which also wrote every tensor's values as torch sees them
// (expected.json): transposed and offset views, shared storages, float16, int64, bool, uint8, float64.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadTorchCheckpoint, torchTensors } from '@fae/core';

const dir = fileURLToPath(new URL('./fixtures/torch-save/', import.meta.url));
const expected = JSON.parse(readFileSync(dir + 'expected.json', 'utf8')) as {
  state_dict: Record<string, { dtype: string; shape: number[]; data: Array<number | boolean> }>;
  epoch: number;
  name: string;
  lr: number[];
};
const DTYPES: Record<string, string> = { float32: 'F32', float16: 'F16', int64: 'I64', bool: 'BOOL', uint8: 'U8', float64: 'F64' }; // safetensors dtype names

describe('torch.save files written by torch itself', () => {
  for (const file of ['zip.pt', 'legacy.pt']) {
    it(`${file}: every tensor, dtype, shape and value as torch wrote it; the other values too`, async () => {
      const bytes = new Uint8Array(readFileSync(dir + file));
      expect(bytes[0] === 0x50 ? 'zip' : 'legacy').toBe(file === 'zip.pt' ? 'zip' : 'legacy'); // 'PK' vs a pickle
      const ck = (await loadTorchCheckpoint(bytes)) as Record<string, unknown>;
      expect(ck.epoch).toBe(expected.epoch);
      expect(ck.name).toBe(expected.name);
      expect(Array.from(ck.lr as number[])).toEqual(expected.lr);
      const tensors = torchTensors(ck.state_dict, '');
      expect([...tensors.keys()].sort()).toEqual(Object.keys(expected.state_dict).sort());
      for (const [key, want] of Object.entries(expected.state_dict)) {
        const t = tensors.get(key)!;
        expect(t.dtype, key).toBe(DTYPES[want.dtype]);
        expect(t.shape, key).toEqual(want.shape);
        const got = Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
        const ref = want.data.map((v) => (typeof v === 'boolean' ? Number(v) : v));
        if (want.dtype === 'float16') {
          // torch wrote float16 values as exact doubles; our float16 -> float32 widening is exact
          expect(got, key).toEqual(ref);
        } else expect(got, key).toEqual(want.dtype === 'float32' ? ref.map((v) => Math.fround(v)) : ref);
      }
    });
  }
});
