// `@fae/core/backends/<name>` entry points: importing one records the tfjs backend package's module,
// which initBackend uses in place of importing the package by name (bundles cannot follow that import).
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { initBackend } from '@fae/core';
import { backendName } from '@fae/core/backends/wasm';
import * as wasmPackage from '@tensorflow/tfjs-backend-wasm';
import { providedBackendModule } from '../src/backend/modules.js';

describe('@fae/core/backends/*', () => {
  it('the wasm entry registers the backend and provides its module; initBackend starts it', async () => {
    expect(backendName).toBe('wasm');
    expect(tf.findBackendFactory('wasm')).toBeTruthy();
    expect(providedBackendModule('wasm')).toBe(wasmPackage);
    const info = await initBackend('wasm');
    expect(info.backend).toBe('wasm');
    expect(info.features).toContain('single-thread');
    expect(tf.tidy(() => tf.tensor([1, 2, 3, 4]).mean().dataSync()[0])).toBe(2.5);
  });

  it('the entries share one table through globalThis (each built entry holds its own copy of the module)', async () => {
    const table = (globalThis as Record<symbol, Map<string, unknown>>)[Symbol.for('@fae/core:backend-modules')];
    expect(table.get('wasm')).toBe(wasmPackage);
  });
});
