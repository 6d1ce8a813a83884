import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends, expectClose, ref64 } from '@fae/testing';
import { KVCache, ShapeError, scaledDotProductAttention } from '@fae/core';

/** Slice positions [from, to) of a [B, H, T, D] reference array. */
function positions(a: ref64.Nd, from: number, to: number): ref64.Nd {
  const [b, h, t, d] = a.shape;
  const out = ref64.nd([b, h, to - from, d]);
  for (let i = 0; i < b * h; i++) out.data.set(a.data.subarray(i * t * d + from * d, i * t * d + to * d), i * (to - from) * d);
  return out;
}

/** Concatenate [B, H, t_i, D] arrays along positions. */
function concatPositions(parts: ref64.Nd[]): ref64.Nd {
  const [b, h, , d] = parts[0].shape;
  const t = parts.reduce((n, p) => n + p.shape[2], 0);
  const out = ref64.nd([b, h, t, d]);
  for (let i = 0; i < b * h; i++) {
    let o = i * t * d;
    for (const p of parts) {
      const len = p.shape[2] * d;
      out.data.set(p.data.subarray(i * len, (i + 1) * len), o);
      o += len;
    }
  }
  return out;
}

describeBackends('KVCache', () => {
  const [B, H, T, D] = [2, 3, 7, 4];
  const q = ref64.randomNd([B, H, T, D], 21);
  const k = ref64.randomNd([B, H, T, D], 22);
  const v = ref64.randomNd([B, H, T, D], 23);

  it('cached step-by-step causal attention equals full causal attention (and the float64 reference)', async () => {
    const [qt, kt, vt] = [q, k, v].map(ref64.toTensor);
    const full = scaledDotProductAttention(qt, kt, vt, { causal: true }); // [B, H, T, D]
    const reference = ref64.attention(q, k, v, { causal: true });
    await expectClose(full, reference.data, 1e-5, 'full causal');

    // A prefix of 3 positions in one append (causal inside the chunk), then one position per step.
    const cache = new KVCache({ name: 'test' });
    const chunks: Array<[number, number]> = [[0, 3], [3, 4], [4, 5], [5, 6], [6, 7]];
    const outs: ref64.Nd[] = [];
    for (const [from, to] of chunks) {
      const before = tf.memory().numTensors;
      const step = tf.tidy(() => {
        const qs = tf.slice(qt, [0, 0, from, 0], [-1, -1, to - from, -1]);
        const ks = tf.slice(kt, [0, 0, from, 0], [-1, -1, to - from, -1]);
        const vs = tf.slice(vt, [0, 0, from, 0], [-1, -1, to - from, -1]);
        const past = cache.append(ks, vs); // [B, H, to, D]
        expect(past.k.shape).toEqual([B, H, to, D]);
        return scaledDotProductAttention(qs, past.k, past.v, { causal: true }); // [B, H, t, D]
      });
      // Only the result is new, plus the cache's own k and v on the first append.
      expect(tf.memory().numTensors - before).toBe(from === 0 ? 3 : 1);
      outs.push(await ref64.fromTensor(step));
      step.dispose();
      expect(cache.length).toBe(to);
    }
    const stepped = concatPositions(outs);
    await expectClose(stepped.data, await full.data() as Float32Array, 1e-5, 'cached vs full');
    await expectClose(stepped.data, reference.data, 1e-5, 'cached vs float64');
    cache.dispose();
    tf.dispose([qt, kt, vt, full]);
  });

  it('holds exactly the appended keys and values, in order; truncate and reset free memory', async () => {
    const [kt, vt] = [k, v].map(ref64.toTensor);
    const start = tf.memory().numTensors;
    const cache = new KVCache();
    expect(cache.isEmpty).toBe(true);
    for (let t = 0; t < T; t++) {
      tf.tidy(() => {
        cache.append(tf.slice(kt, [0, 0, t, 0], [-1, -1, 1, -1]), tf.slice(vt, [0, 0, t, 0], [-1, -1, 1, -1]));
      });
    }
    expect(tf.memory().numTensors).toBe(start + 2); // only the cache's own k and v
    expect(Array.from(await cache.keys!.data())).toEqual(Array.from(await kt.data()));
    expect(Array.from(await cache.values!.data())).toEqual(Array.from(await vt.data()));
    cache.truncate(4);
    expect(cache.length).toBe(4);
    expect(tf.memory().numTensors).toBe(start + 2);
    await expectClose(cache.keys!, positions(k, 0, 4).data, 0, 'truncated keys');
    await expectClose(cache.values!, positions(v, 0, 4).data, 0, 'truncated values');
    cache.reset();
    expect(cache.isEmpty).toBe(true);
    expect(tf.memory().numTensors).toBe(start);
    // The caller's tensors are not taken: they survive the cache.
    expect(kt.isDisposed).toBe(false);
    tf.dispose([kt, vt]);
  });

  it('rejects mismatched shapes and overflow with ShapeError naming the cache', () => {
    const cache = new KVCache({ maxLength: 2, name: 'blocks.0.attention[cond]' });
    const a = tf.zeros([1, 2, 1, 4]);
    cache.append(a, a);
    expect(() => cache.append(tf.zeros([1, 3, 1, 4]), tf.zeros([1, 3, 1, 4]))).toThrow(ShapeError);
    expect(() => cache.append(a, tf.zeros([1, 2, 2, 4]))).toThrow(/blocks\.0\.attention\[cond\]: v/);
    expect(() => cache.append(tf.zeros([2, 4]), a)).toThrow(ShapeError);
    cache.append(a, a);
    expect(() => cache.append(a, a)).toThrow(/at most 2 cached positions/);
    expect(cache.length).toBe(2);
    cache.dispose();
    a.dispose();
  });
});
