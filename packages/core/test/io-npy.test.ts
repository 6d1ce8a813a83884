import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { requireNumpy } from '@fae/testing';
import { WeightsFormatError, encodeZip, readNpy, readNpz, writeNpy, writeNpz, type NpyInput } from '@fae/core';

const tmp = mkdtempSync(join(tmpdir(), 'fae-io-npy-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));


const arrays: Record<string, NpyInput> = {
  mu: { shape: [4], data: Float64Array.of(0.5, -1e-300, 1e300, 3) },
  sigma: { shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6.5) },
  labels: { shape: [3], data: Int32Array.of(-1, 0, 2 ** 31 - 1) },
  ids: { shape: [2], data: BigInt64Array.of(-(2n ** 40n), 7n) },
  img: { shape: [1, 2, 2], data: Uint8Array.of(0, 128, 255, 1) },
  mask: { dtype: 'BOOL', shape: [2], data: Uint8Array.of(1, 0) },
  empty: { shape: [0], data: new Float32Array(0) },
  scalar: { shape: [], data: Float64Array.of(42) },
};

describe('npy / npz', () => {
  it('writes .npy with a 64-byte aligned header and reads it back', () => {
    const b = writeNpy(arrays.sigma);
    expect(Array.from(b.subarray(0, 8))).toEqual([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    const hlen = b[8] | (b[9] << 8);
    expect((10 + hlen) % 64).toBe(0);
    expect(new TextDecoder().decode(b.subarray(10, 10 + hlen))).toMatch(/^\{'descr': '<f4', 'fortran_order': False, 'shape': \(2, 3\), \} *\n$/);
    const r = readNpy(b);
    expect(r).toEqual({ dtype: 'F32', shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6.5) });
  });

  for (const compress of [false, true]) {
    it(`round-trips every supported dtype through .npz (${compress ? 'deflated' : 'stored'})`, async () => {
      const back = await readNpz(writeNpz(arrays, { compress }));
      expect([...back.keys()].sort()).toEqual(Object.keys(arrays).sort());
      for (const [k, a] of Object.entries(arrays)) {
        expect(back.get(k)!.shape, k).toEqual(a.shape);
        expect(Array.from(back.get(k)!.data as ArrayLike<number>), k).toEqual(Array.from(a.data as ArrayLike<number>));
      }
      expect(back.get('mask')!.dtype).toBe('BOOL');
    });
  }

  it('reads big-endian and Fortran-ordered arrays in C order', () => {
    const header = "{'descr': '>i4', 'fortran_order': True, 'shape': (2, 3), }";
    const pad = 64 - ((10 + header.length + 1) % 64);
    const text = header + ' '.repeat(pad) + '\n';
    const data = new Uint8Array(24);
    const dv = new DataView(data.buffer);
    [1, 4, 2, 5, 3, 6].forEach((v, i) => dv.setInt32(i * 4, v, false)); // column-major [[1,2,3],[4,5,6]]
    const b = new Uint8Array(10 + text.length + 24);
    b.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, text.length & 0xff, text.length >> 8]);
    for (let i = 0; i < text.length; i++) b[10 + i] = text.charCodeAt(i);
    b.set(data, 10 + text.length);
    expect(readNpy(b)).toEqual({ dtype: 'I32', shape: [2, 3], data: Int32Array.of(1, 2, 3, 4, 5, 6) });
  });

  it('malformed .npy: bad magic, structured dtype, data size mismatch, header past the end', () => {
    const good = writeNpy(arrays.sigma);
    expect(() => readNpy(good.subarray(0, 5), 'x.npy')).toThrow(/x\.npy.*magic/);
    expect(() => readNpy(good.subarray(0, good.length - 1), 'x.npy')).toThrow(/needs 24 bytes/);
    const long = good.slice();
    long[8] = 0xff;
    long[9] = 0xff;
    expect(() => readNpy(long)).toThrow(/runs past the end/);
    // same-length patches of the header text
    const patch = (from: string, to: string) => {
      const b = good.slice();
      const at = new TextDecoder('latin1').decode(b).indexOf(from);
      b.set(new TextEncoder().encode(to), at);
      return b;
    };
    expect(() => readNpy(patch("'<f4'", "[('a'"))).toThrow(/structured/);
    const complex = patch('<f4', '<c8');
    expect(() => readNpy(complex)).toThrow(/unsupported dtype '<c8'/);
  });

  it('numpy reads our .npz and we read numpy\'s savez / savez_compressed', async (ctx) => {
    requireNumpy(ctx, 'the cross-check against numpy');
    for (const compress of [false, true]) {
      const path = join(tmp, `ours-${compress}.npz`);
      writeFileSync(path, writeNpz(arrays, { compress }));
      const r = spawnSync('python3', ['-c', `
import json, sys, numpy as np
z = np.load(sys.argv[1])
print(json.dumps({k: [str(z[k].dtype), list(z[k].shape), [repr(x) for x in z[k].reshape(-1).tolist()]] for k in z.files}))`, path], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const got = JSON.parse(r.stdout);
      expect(got.mu[0]).toBe('float64');
      expect(got.mu[2].map(Number)).toEqual(Array.from(arrays.mu.data as Float64Array));
      expect(got.ids).toEqual(['int64', [2], [String(-(2n ** 40n)), '7']]);
      expect(got.mask).toEqual(['bool', [2], ['True', 'False']]);
      expect(got.img[0]).toBe('uint8');
      expect(got.scalar[1]).toEqual([]);
    }
    const theirs = join(tmp, 'theirs.npz');
    const r = spawnSync('python3', ['-c', `
import sys, numpy as np
a = np.arange(12, dtype=np.float32).reshape(3, 4)
np.savez_compressed(sys.argv[1], a=a, f=np.asfortranarray(a.astype(np.float64)), b=np.array([True, False]), i=np.array([-5, 2**40], dtype=np.int64))`, theirs], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const z = await readNpz(new Uint8Array(readFileSync(theirs)));
    const seq = Array.from({ length: 12 }, (_, i) => i);
    expect(Array.from(z.get('a')!.data as Float32Array)).toEqual(seq);
    expect(Array.from(z.get('f')!.data as Float64Array)).toEqual(seq);
    expect(z.get('f')!.shape).toEqual([3, 4]);
    expect(Array.from(z.get('b')!.data as ArrayLike<unknown>)).toEqual([1, 0]);
    expect(Array.from(z.get('i')!.data as ArrayLike<unknown>)).toEqual([-5n, 2n ** 40n]);
  });

  it('an .npz entry that is not .npy is a WeightsFormatError naming the archive and entry', async () => {
    const zip = encodeZip([{ name: 'x.npy', data: new Uint8Array([1, 2, 3]) }]);
    await expect(readNpz(zip, 'stats.npz')).rejects.toThrow(/stats\.npz \(x\.npy\)/);
  });
});
