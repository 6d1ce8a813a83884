// initBackend in Node. This file deliberately does not import @fae/testing (whose harness starts the
// backends single-threaded at import), so the wasm backend starts here for the first time.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { initBackend, BackendUnavailableError, AUTO_ORDER } from '@fae/core';

const CI = process.env.CI === 'true';

/** CPU clock ticks per thread of this process (Linux), or null elsewhere. */
function threadTimes(): Map<string, number> | null {
  if (!existsSync('/proc/self/task')) return null;
  const out = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(tid, Number(fields[11]) + Number(fields[12])); // utime + stime
    } catch {
      // thread ended
    }
  }
  return out;
}

describe('initBackend', () => {
  it('starts wasm with threads in Node and proves more than one thread ran', async () => {
    const info = await initBackend('wasm', { wasmThreads: 2 });
    expect(info.backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(info.features).toContain('threads:2');
    // Proof that more than one thread computed: on Linux, count the threads of this process whose
    // CPU time grew during large matmuls (/proc/self/task/<tid>/stat, utime+stime in clock ticks).
    // Robust to a busy machine, unlike comparing CPU time with wall time.
    const a = tf.randomNormal([1024, 1024], 0, 1, 'float32', 1);
    const b = tf.randomNormal([1024, 1024], 0, 1, 'float32', 2);
    const before = threadTimes();
    for (let i = 0; i < 4; i++) {
      const c = tf.matMul(a, b);
      expect(Number.isFinite((await tf.sum(c).data())[0])).toBe(true);
      c.dispose();
    }
    if (before) {
      const after = threadTimes()!;
      const busy = [...after].filter(([tid, t]) => t - (before.get(tid) ?? 0) >= 5); // >= 50 ms of CPU
      expect(busy.length).toBeGreaterThanOrEqual(2);
    }
    // Threaded results agree with a float64 check on a small product.
    const x = tf.tensor2d([[1, 2], [3, 4]]);
    expect(Array.from(await tf.matMul(x, x).data())).toEqual([7, 10, 15, 22]);
    tf.dispose([a, b, x]);
  });

  it('starts cpu and reports it', async () => {
    const info = await initBackend('cpu');
    expect(info).toMatchObject({ backend: 'cpu' });
    expect(tf.getBackend()).toBe('cpu');
  });

  it.runIf(process.platform === 'linux')('starts webgpu (software Vulkan here) and describes the adapter', async () => {
    const info = await initBackend('webgpu').catch((e) => e);
    if (info instanceof Error) {
      if (CI) throw info;
      console.warn(`webgpu unavailable here: ${info.message}`);
      return;
    }
    expect(info.backend).toBe('webgpu');
    expect(info.adapter.length).toBeGreaterThan(0);
    expect(info.features.length).toBeGreaterThan(0);
    const y = tf.add(tf.ones([4]), 1);
    expect(Array.from(await y.data())).toEqual([2, 2, 2, 2]);
    y.dispose();
  });

  it('names what is missing for an unknown or unavailable backend', async () => {
    const err = await initBackend('no-such-backend').catch((e) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect(err.message).toContain("'no-such-backend'");
    const gl = await initBackend('webgl').catch((e) => e);
    expect(gl).toBeInstanceOf(BackendUnavailableError);
    expect(gl.message).toMatch(/webgl/i);
  });

  it('auto takes the first backend that starts, in the stated order, and says what it tried', async () => {
    const info = await initBackend('auto');
    expect(AUTO_ORDER.indexOf(info.backend)).toBeGreaterThanOrEqual(0);
    expect(info.tried.at(-1)).toEqual({ backend: info.backend });
    // a software WebGPU adapter (lavapipe here) is passed over for wasm, and says so
    const gpu = info.tried.find((t) => t.backend === 'webgpu');
    if (gpu?.error?.includes('software adapter')) expect(info.backend).not.toBe('webgpu');
    for (const t of info.tried.slice(0, -1)) expect(t.error).toBeTruthy();
    expect(info.tried.map((t) => t.backend)).toEqual(AUTO_ORDER.slice(0, info.tried.length));
  });
});
