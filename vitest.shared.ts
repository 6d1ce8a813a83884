// Shared vitest settings for every package: sources are tested directly (aliases to src/),
// one fork at a time per package (tfjs keeps one global engine per process), long timeouts
// because the same specs run on cpu, wasm and webgpu (software Vulkan in CI).
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { defineConfig } from 'vitest/config';
import { softwareVulkanEnv } from './tools/testing/src/backends-env.ts';

const root = dirname(fileURLToPath(import.meta.url));

// Software Vulkan (lavapipe) for the WebGPU tests: LD_LIBRARY_PATH must be in the environment when a
// worker process starts, so it is set here, in the main process, before vitest forks.
Object.assign(process.env, softwareVulkanEnv());

export function faeVitestConfig(configUrl: string) {
  const pkgDir = dirname(fileURLToPath(configUrl));
  return defineConfig({
    root: pkgDir,
    resolve: {
      alias: [
        { find: /^@fae\/testing$/, replacement: resolve(root, 'tools/testing/src/index.ts') },
        { find: /^@fae\/([a-z]+)$/, replacement: resolve(root, 'packages/$1/src/index.ts') },
        { find: /^@fae\/core\/backends\/([a-z]+)$/, replacement: resolve(root, 'packages/core/src/backends/$1.ts') },
      ],
    },
    test: {
      include: ['test/**/*.test.ts'],
      pool: 'forks',
      maxWorkers: process.env.CI ? 2 : 1,
      testTimeout: 300_000,
      hookTimeout: 300_000,
      reporters: process.env.FAE_TEST_RESULTS ? ['default', 'json'] : ['default'],
      outputFile: process.env.FAE_TEST_RESULTS
        ? { json: resolve(process.env.FAE_TEST_RESULTS, `${pkgDir.split('/').slice(-2).join('__')}.json`) }
        : undefined,
    },
  });
}
