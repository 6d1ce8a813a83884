// initBackend: pick and start a TensorFlow.js backend in Node or in the browser.
//
// Backends are optional peer dependencies: in Node this module imports a backend package only when
// asked for it, by name (a variable specifier), so library code never pulls a backend into a bundle.
// In a bundle, import the entry point of the backend (`import '@fae/core/backends/wasm'`, also `cpu`
// and `webgpu`): it imports the tfjs package statically, so the bundler includes it, and initBackend
// finds it (backend/modules.ts). A tfjs backend package imported directly is found too.
import * as tf from '@tensorflow/tfjs-core';
import { BackendUnavailableError } from '../errors.js';
import { startWasmWithThreads } from './wasm-threads-node.js';
import { registerFaeWebGPUKernels } from '../webgpu/register.js';
import { registerFaeWasmKernels } from './wasm-kernels.js';
import { providedBackendModule } from './modules.js';
import { UNSAFE_APIS_TOGGLE, registerWebGPUFactoryWithInt8Features } from '../webgpu/int8-device.js';

export type BackendName = 'auto' | 'webgpu' | 'wasm' | 'cpu' | 'webgl' | 'tensorflow' | (string & {});

export interface BackendInfo {
  /** The tfjs backend name now active (`tf.getBackend()`). */
  backend: string;
  /** Human-readable description of the device (WebGPU adapter, wasm features, ...). */
  adapter?: string;
  /** Capabilities: WebGPU features, wasm SIMD/threads, ... */
  features: string[];
  /** For `auto`: every backend tried, in order, with why it was not taken. */
  tried: Array<{ backend: string; error?: string }>;
}

export interface InitBackendOptions {
  /** WebGPU in Node: options passed to the `webgpu` package's `create()` (Dawn toggles). */
  dawnOptions?: string[];
  /**
   * wasm: number of threads. Default in Node: 1 (measured: one thread beats all cores for small models
   * and on a busy machine; see the core README). More than 1 starts tfjs's threaded build under
   * worker_threads (startWasmWithThreads; its workers never keep the process alive). In browsers tfjs
   * decides (threads need cross-origin isolation) unless a count is given.
   */
  wasmThreads?: number;
  /**
   * WebGPU: use FAE's kernels (tiled matmul with fused bias/activation) in place of tfjs's where
   * they apply. 'auto' (default): on hardware adapters, not on CPU software rasterisers (llvmpipe),
   * where compiling the larger shaders costs more than it saves.
   */
  webgpuKernels?: 'auto' | 'fae' | 'tfjs';
  /**
   * wasm: use FAE's kernels for BatchMatMul (batched / transposed products on XNNPACK), Slice, SplitV,
   * Unpack, Concat and rank-5+ Transpose in place of tfjs's slow paths (default 'fae'; 'tfjs' opts out).
   */
  wasmKernels?: 'fae' | 'tfjs';
  /** `auto` only: also accept a software WebGPU adapter (llvmpipe/SwiftShader); default false (wasm is faster). */
  allowSoftwareWebGPU?: boolean;
  /** wasm: where the .wasm files live (folder or URL ending in '/'). Defaults to node_modules in Node. */
  wasmPaths?: string;
  /**
   * WebGPU: opt in to Dawn's experimental features (Node: the `allow_unsafe_apis` toggle) and create
   * the device with `subgroups` and `chromium-experimental-subgroup-matrix` where the adapter offers
   * them: the int8 tensor-core GEMM of quantizeLinears (W8A8). Default false.
   */
  unsafeApis?: boolean;
}

/** The order `auto` tries, fastest first. tfjs-node ('tensorflow') is taken only where installed. */
export const AUTO_ORDER: readonly string[] = ['tensorflow', 'webgpu', 'wasm', 'webgl', 'cpu'];

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

const PACKAGE_OF: Record<string, string> = {
  cpu: '@tensorflow/tfjs-backend-cpu',
  wasm: '@tensorflow/tfjs-backend-wasm',
  webgpu: '@tensorflow/tfjs-backend-webgpu',
  webgl: '@tensorflow/tfjs-backend-webgl',
  tensorflow: '@tensorflow/tfjs-node',
};

// A variable specifier keeps bundlers from resolving optional packages at build time.
async function importOptional(specifier: string): Promise<any> {
  return import(/* @vite-ignore */ /* webpackIgnore: true */ specifier);
}

/** A backend package's module: the one an `@fae/core/backends/*` entry provided, else imported by name. */
async function backendModule(name: string): Promise<any> {
  return providedBackendModule(name) ?? importOptional(PACKAGE_OF[name]);
}

/**
 * In Node, provides `navigator.gpu` from the optional `webgpu` package (Dawn). No-op where
 * navigator.gpu exists (browsers). Must run before `@tensorflow/tfjs-backend-webgpu` is imported,
 * since that package registers its backend only where WebGPU is present at import time.
 */
export async function installNodeWebGPU(opts: InitBackendOptions = {}): Promise<void> {
  const g = globalThis as any;
  if (g.navigator?.gpu) return;
  if (!isNode) throw new BackendUnavailableError('webgpu', 'this browser has no navigator.gpu (WebGPU is disabled or unsupported)');
  let dawn: any;
  try {
    dawn = await importOptional('webgpu');
  } catch (e) {
    throw new BackendUnavailableError('webgpu', "WebGPU in Node needs the optional package 'webgpu' (npm i webgpu)", e);
  }
  if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = (await import('node:os')).tmpdir();
  Object.assign(g, dawn.globals);
  if (!g.navigator) Object.defineProperty(g, 'navigator', { value: {}, configurable: true, writable: true });
  Object.defineProperty(g.navigator, 'gpu', { value: dawn.create(opts.dawnOptions ?? []), configurable: true });
}

async function describeWebGPU(): Promise<{ adapter: string; features: string[] }> {
  const backend = tf.backend() as any;
  const adapterInfo = backend.adapterInfo ?? {};
  const device = backend.device as any;
  const features = device?.features ? [...device.features].map(String).sort() : [];
  const adapter = [adapterInfo.vendor, adapterInfo.architecture, adapterInfo.description, adapterInfo.device]
    .filter((s: unknown) => typeof s === 'string' && s.length > 0)
    .join(' ');
  return { adapter: adapter || 'unknown WebGPU adapter', features };
}

/** unsafeApis: tfjs's webgpu factory again, asking for the int8 features (webgpu/int8-device.ts); not once the backend exists. */
async function requestInt8Features(): Promise<void> {
  const mod = await backendModule('webgpu');
  if (mod?.WebGPUBackend && !(tf.engine() as unknown as { registry: Record<string, unknown> }).registry.webgpu) {
    registerWebGPUFactoryWithInt8Features(tf, mod.WebGPUBackend);
  }
}

async function startOne(name: string, opts: InitBackendOptions): Promise<BackendInfo> {
  if (name === 'webgpu' && opts.unsafeApis) opts = { ...opts, dawnOptions: [...(opts.dawnOptions ?? []), UNSAFE_APIS_TOGGLE] };
  if (!tf.findBackendFactory(name)) {
    const pkg = PACKAGE_OF[name];
    if (!pkg) throw new BackendUnavailableError(name, `no backend named '${name}' is registered; import its package first`);
    if (name === 'webgpu') await installNodeWebGPU(opts);
    if (name === 'tensorflow' && !isNode) throw new BackendUnavailableError(name, 'tfjs-node runs only in Node');
    if (name === 'webgl' && isNode) throw new BackendUnavailableError(name, 'WebGL needs a browser (headless GL in Node gives wrong results)');
    try {
      const mod = await backendModule(name);
      if (name === 'wasm' && opts.wasmPaths) mod.setWasmPaths?.(opts.wasmPaths);
      if (name === 'wasm' && opts.wasmThreads && !isNode) mod.setThreadsCount?.(opts.wasmThreads);
    } catch (e) {
      throw new BackendUnavailableError(name, `package ${pkg} is not installed (npm i ${pkg})`, e);
    }
  } else if (name === 'webgpu') {
    await installNodeWebGPU(opts);
  }
  if (name === 'webgpu' && opts.unsafeApis) await requestInt8Features();
  let ok = false;
  let wasmThreads: number | undefined;
  let wasmThreadsNote: string | undefined;
  try {
    if (name === 'wasm' && isNode && tf.getBackend() !== 'wasm') {
      const r = await startWasmWithThreads(opts.wasmThreads ?? 1);
      wasmThreads = r.threads;
      wasmThreadsNote = r.reason;
    }
    ok = await tf.setBackend(name);
    await tf.ready();
  } catch (e) {
    throw new BackendUnavailableError(name, `backend failed to start: ${(e as Error).message}`, e);
  }
  if (!ok || tf.getBackend() !== name) {
    const why = name === 'webgpu' ? 'no WebGPU adapter (on a CPU-only Linux machine run `node scripts/lavapipe.mjs` for software Vulkan)' : 'its initialisation failed';
    throw new BackendUnavailableError(name, why);
  }
  const info: BackendInfo = { backend: name, features: [], tried: [] };
  if (name === 'webgpu') {
    Object.assign(info, await describeWebGPU());
    const kernels = opts.webgpuKernels ?? 'auto';
    if (kernels === 'fae' || (kernels === 'auto' && !isSoftwareAdapter(info.adapter))) {
      if (registerFaeWebGPUKernels()) info.features.push('fae-kernels');
    }
  }
  if (name === 'wasm') {
    const simd = tf.env().getAsync ? await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT').catch(() => false) : false;
    // In a browser the package may be bundled under another name: read the count only where it resolves.
    const mod = await backendModule('wasm').catch(() => null);
    const threads = wasmThreads ?? mod?.getThreadsCount?.() ?? 1;
    info.features = [simd ? 'simd' : 'no-simd', threads > 1 ? `threads:${threads}` : 'single-thread'];
    if (wasmThreadsNote && threads <= 1 && (opts.wasmThreads ?? 1) > 1) info.features.push(`note: ${wasmThreadsNote}`);
    info.adapter = 'WebAssembly (XNNPACK)';
    if ((opts.wasmKernels ?? 'fae') === 'fae' && registerFaeWasmKernels()) info.features.push('fae-kernels');
  }
  if (name === 'cpu') {
    info.adapter = 'JavaScript (tfjs-backend-cpu)';
    // tfjs-backend-cpu prints a banner suggesting tfjs-node on its first tensor in Node; a caller that
    // chose this backend (or `auto`, which prefers tfjs-node where installed) has seen the choice.
    const cpu = tf.backend() as { firstUse?: boolean };
    if (isNode && cpu.firstUse === true) cpu.firstUse = false;
  }
  if (name === 'tensorflow') info.adapter = 'libtensorflow (tfjs-node)';
  return info;
}

/** True for CPU software rasterisers exposed as WebGPU adapters (Mesa llvmpipe/lavapipe, SwiftShader). */
export function isSoftwareAdapter(description: string | undefined): boolean {
  return /llvmpipe|lavapipe|swiftshader|software/i.test(description ?? '');
}

/**
 * Start a backend and make it the active one.
 * `auto` tries {@link AUTO_ORDER} and returns the first that starts, listing what it tried.
 * A named backend that cannot start throws {@link BackendUnavailableError} naming what is missing.
 */
export async function initBackend(name: BackendName = 'auto', opts: InitBackendOptions = {}): Promise<BackendInfo> {
  if (name !== 'auto') return startOne(name, opts);
  const tried: BackendInfo['tried'] = [];
  for (const candidate of AUTO_ORDER) {
    try {
      const info = await startOne(candidate, opts);
      if (candidate === 'webgpu' && !opts.allowSoftwareWebGPU && isSoftwareAdapter(info.adapter)) {
        tried.push({ backend: candidate, error: `software adapter (${info.adapter}) is slower than wasm` });
        continue;
      }
      info.tried = [...tried, { backend: candidate }];
      return info;
    } catch (e) {
      tried.push({ backend: candidate, error: (e as Error).message });
    }
  }
  throw new BackendUnavailableError('auto', `no backend could start: ${tried.map((t) => `${t.backend} (${t.error})`).join('; ')}`);
}
