// The shared test harness: every spec runs on cpu, wasm and webgpu (software Vulkan on CPU-only
// machines). `describeBackends` registers one describe block per backend; a backend that cannot
// start is skipped with the reason locally and FAILS under CI=true.
import * as tf from '@tensorflow/tfjs-core';
import { describe, it, beforeAll } from 'vitest';
export { lavapipeDir, softwareVulkanEnv } from './backends-env.js';

import { ALL_BACKENDS, useBackend, type TestBackend } from './start-backend.js';
export { ALL_BACKENDS, useBackend, type TestBackend } from './start-backend.js';

/** Backends selected by FAE_BACKENDS (comma list), default all three. */
export const TEST_BACKENDS: TestBackend[] = (process.env.FAE_BACKENDS ?? ALL_BACKENDS.join(','))
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean) as TestBackend[];

export const IN_CI = process.env.CI === 'true' || process.env.CI === '1';

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
  if (list.length === 0) {
    // e.g. FAE_BACKENDS=cpu and a webgpu-only spec: say so instead of an empty file
    describe.skip(`${name} (skipped: needs ${opts.backends?.join('/')}, FAE_BACKENDS=${TEST_BACKENDS.join(',')})`, () => {
      it('needs another backend', () => {});
    });
    return;
  }
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
