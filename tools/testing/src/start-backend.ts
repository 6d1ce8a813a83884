// Starting a tfjs backend by name in Node, outside any test runner (the parity CLI and benches use it;
// backends.ts builds the vitest harness on it). WebGPU in Node goes through Dawn (the `webgpu`
// package); on CPU-only Linux it needs software Vulkan in LD_LIBRARY_PATH before the process starts
// (see backends-env.ts).
import * as tf from '@tensorflow/tfjs-core';

export const ALL_BACKENDS = ['cpu', 'wasm', 'webgpu'] as const;
export type TestBackend = (typeof ALL_BACKENDS)[number];

const status = new Map<string, Promise<string | null>>();

async function start(backend: TestBackend): Promise<string | null> {
  try {
    if (backend === 'cpu') await import('@tensorflow/tfjs-backend-cpu');
    else if (backend === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
    else if (backend === 'webgpu') {
      const g = globalThis as any;
      if (!g.navigator?.gpu) {
        const dawn = await import('webgpu');
        Object.assign(g, dawn.globals);
        if (!g.navigator) Object.defineProperty(g, 'navigator', { value: {}, configurable: true, writable: true });
        Object.defineProperty(g.navigator, 'gpu', { value: dawn.create([]), configurable: true });
      }
      await import('@tensorflow/tfjs-backend-webgpu');
    } else return `unknown backend '${backend}' (use cpu, wasm or webgpu)`;
    const ok = await tf.setBackend(backend);
    await tf.ready();
    // quiet tests: tfjs-backend-cpu prints a banner recommending tfjs-node on its first tensor in Node
    if (backend === 'cpu') (tf.backend() as { firstUse?: boolean }).firstUse = false;
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
