// The shared test harness: every spec runs on cpu, wasm and webgpu (software Vulkan on CPU-only
// machines). `describeBackends` registers one describe block per backend; a backend that cannot
// start is skipped with the reason locally and FAILS under CI=true.
import * as tf from '@tensorflow/tfjs-core';
import { describe, it, beforeAll } from 'vitest';
export { lavapipeDir, softwareVulkanEnv } from './backends-env.js';

export const ALL_BACKENDS = ['cpu', 'wasm', 'webgpu'] as const;
export type TestBackend = (typeof ALL_BACKENDS)[number];

/** Backends selected by FAE_BACKENDS (comma list), default all three. */
export const TEST_BACKENDS: TestBackend[] = (process.env.FAE_BACKENDS ?? ALL_BACKENDS.join(','))
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean) as TestBackend[];

export const IN_CI = process.env.CI === 'true' || process.env.CI === '1';

const status = new Map<string, Promise<string | null>>();

async function start(backend: TestBackend): Promise<string | null> {
  try {
    if (backend === 'cpu') await import('@tensorflow/tfjs-backend-cpu');
    if (backend === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
    if (backend === 'webgpu') {
      const g = globalThis as any;
      if (!g.navigator?.gpu) {
        const dawn = await import('webgpu');
        Object.assign(g, dawn.globals);
        if (!g.navigator) Object.defineProperty(g, 'navigator', { value: {}, configurable: true, writable: true });
        Object.defineProperty(g.navigator, 'gpu', { value: dawn.create([]), configurable: true });
      }
      await import('@tensorflow/tfjs-backend-webgpu');
    }
    const ok = await tf.setBackend(backend);
    await tf.ready();
    if (!ok || tf.getBackend() !== backend) {
      return backend === 'webgpu'
        ? 'no WebGPU adapter: run `node scripts/lavapipe.mjs` (software Vulkan) and start tests through vitest so LD_LIBRARY_PATH/VK_ICD_FILENAMES are set'
        : `${backend} failed to initialise`;
    }
    return null;
  } catch (e) {
    return `${backend} failed to start: ${(e as Error).message}`;
  }
}

/** Starts (once per process) and activates a backend. Returns null, or why it is unavailable. */
export async function useBackend(backend: TestBackend): Promise<string | null> {
  if (!status.has(backend)) status.set(backend, start(backend));
  const why = await status.get(backend)!;
  if (why) return why;
  if (tf.getBackend() !== backend) await tf.setBackend(backend);
  return null;
}

export interface BackendContext {
  backend: TestBackend;
}

/** Why each selected backend cannot start (null = available), probed once when this module loads. */
export const BACKEND_PROBLEMS: Record<string, string | null> = {};
for (const b of TEST_BACKENDS) BACKEND_PROBLEMS[b] = await useBackend(b);
if (TEST_BACKENDS.length) await tf.setBackend(TEST_BACKENDS.find((b) => !BACKEND_PROBLEMS[b]) ?? 'cpu').catch(() => false);

/**
 * Registers `fn`'s tests once per backend, as `<name> [cpu]`, `<name> [wasm]`, `<name> [webgpu]`.
 * An unavailable backend's block is skipped with the reason, except under CI=true where it fails.
 * `opts.backends` narrows the list (e.g. tests of pure-JS code need only 'cpu').
 */
export function describeBackends(name: string, fn: (ctx: BackendContext) => void, opts: { backends?: TestBackend[] } = {}): void {
  const list = TEST_BACKENDS.filter((b) => !opts.backends || opts.backends.includes(b));
  for (const backend of list) {
    const why = BACKEND_PROBLEMS[backend];
    if (why && IN_CI) {
      describe(`${name} [${backend}]`, () => {
        it('backend is available', () => {
          throw new Error(`backend ${backend} must run in CI: ${why}`);
        });
      });
      continue;
    }
    describe.skipIf(!!why)(`${name} [${backend}]${why ? ` (skipped: ${why})` : ''}`, () => {
      beforeAll(async () => {
        const problem = await useBackend(backend);
        if (problem) throw new Error(problem);
      });
      fn({ backend });
    });
  }
}

/** Runs `fn` and asserts the number of live tensors is unchanged afterwards; returns fn's result. */
export async function expectNoLeaks<T>(fn: () => T | Promise<T>, label = 'call'): Promise<T> {
  const before = tf.memory().numTensors;
  const out = await fn();
  const after = tf.memory().numTensors;
  const outCount = countTensors(out);
  if (after - outCount !== before) {
    throw new Error(`${label} leaked ${after - outCount - before} tensor(s) (before ${before}, after ${after}, returned ${outCount})`);
  }
  return out;
}

function countTensors(x: unknown, seen = new Set<unknown>()): number {
  if (x instanceof tf.Tensor) {
    if (seen.has(x.dataId)) return 0;
    seen.add(x.dataId);
    return 1;
  }
  if (Array.isArray(x)) return x.reduce((n, v) => n + countTensors(v, seen), 0);
  if (x && typeof x === 'object' && Object.getPrototypeOf(x) === Object.prototype) {
    return Object.values(x).reduce((n: number, v) => n + countTensors(v, seen), 0);
  }
  return 0;
}
