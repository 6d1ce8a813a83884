// Multi-threaded tfjs-backend-wasm under Node.
//
// tfjs-backend-wasm 4.x ships a threaded SIMD build (Emscripten pthreads) but turns it off in Node:
// its WASM_HAS_MULTITHREAD_SUPPORT flag returns false there, its pthread workers are created from
// `blob:` URLs (Node's worker_threads cannot start those: ERR_WORKER_PATH), the worker re-imports
// the main script from a Blob, and the C++ side caps threads at half of os.cpus().
// This module makes it work without patching node_modules:
//   1. while the backend initialises, Blob/URL.createObjectURL are wrapped so the worker script and
//      the main script are written to real files in a temp folder (and the worker is pointed at the
//      main script file instead of a Blob);
//   2. the main script gets the module-level bindings the bundle's factory closes over
//      (`require$$N = require('...')`, `commonjsGlobal`), read from the bundle itself;
//   3. os.cpus() is widened during initialisation so the C++ cap allows the requested count;
//   4. worker_threads.Worker is replaced during initialisation by a subclass that unref()s each
//      worker, so the pthread pool never keeps the process alive: a script exits by itself when its
//      work is done (the workers only compute while the main thread waits on them).
// Everything is restored once the backend has started. If anything looks different from what this
// expects (another tfjs version), it leaves the flag off and the backend runs single-threaded.
import * as tf from '@tensorflow/tfjs-core';
import { providedBackendModule } from './modules.js';

export interface WasmThreadsResult {
  /** Threads XNNPACK actually uses (tfjs-backend-wasm getThreadsCount()). */
  threads: number;
  /** Why threads are off, when they are. */
  reason?: string;
}

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

/**
 * Starts the wasm backend with `threads` threads in Node (default: all cores). Call instead of
 * `tf.setBackend('wasm')`. In browsers it only sets the count (tfjs handles threads there itself,
 * given cross-origin isolation).
 */
export async function startWasmWithThreads(threads?: number): Promise<WasmThreadsResult> {
  const wasm: any =
    providedBackendModule('wasm') ?? (await import(/* @vite-ignore */ /* webpackIgnore: true */ '@tensorflow/tfjs-backend-wasm' as string));
  if (!isNode) {
    if (threads) wasm.setThreadsCount(threads);
    await tf.setBackend('wasm');
    return { threads: wasm.getThreadsCount() };
  }
  const { createRequire } = await import('node:module');
  const { mkdtempSync, readFileSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const require = createRequire(import.meta.url);
  const os = require('os') as typeof import('os');
  const workerThreads = require('worker_threads') as typeof import('worker_threads');
  const want = Math.max(1, Math.floor(threads ?? os.cpus().length));
  if (want === 1) {
    await tf.setBackend('wasm');
    return { threads: wasm.getThreadsCount(), reason: 'one thread requested' };
  }

  // The module-level bindings of the CommonJS bundle that the Emscripten factory refers to.
  let prelude: string;
  try {
    const bundle = readFileSync(require.resolve('@tensorflow/tfjs-backend-wasm'), 'utf8');
    const bindings = [...bundle.matchAll(/^var (require\$\$\d+) = require\('([\w:/-]+)'\);$/gm)].map((m) => `${m[1]}=require(${JSON.stringify(m[2])})`);
    if (!bindings.length || !bundle.includes('var WasmBackendModuleThreadedSimd')) throw new Error('unexpected bundle layout');
    prelude = `var ${bindings.join(',')},commonjsGlobal=globalThis;\n`;
  } catch (e) {
    await tf.setBackend('wasm');
    return { threads: wasm.getThreadsCount(), reason: `threads unavailable: ${(e as Error).message}` };
  }

  const dir = mkdtempSync(join(tmpdir(), 'fae-wasm-threads-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const mainPath = join(dir, 'tfjs-backend-wasm-threaded-simd.js');
  const workerPath = join(dir, 'tfjs-backend-wasm.worker.js');
  // Appended to the worker: when told to load the main script from a Blob, load our file instead.
  const workerFix = `\n;(function(){var o=self.onmessage;self.onmessage=function(e){if(e.data&&e.data.cmd==="load"&&typeof e.data.urlOrBlob!=="string"){e.data.urlOrBlob=${JSON.stringify(mainPath)}}return o(e)}})();\n`;

  const g = globalThis as any;
  const OrigBlob = g.Blob;
  const origCreate = URL.createObjectURL;
  const realCpus = os.cpus;
  const RealWorker = workerThreads.Worker;
  // Workers stay referenced while the backend starts (it awaits their 'loaded' messages), then are
  // unref()'d; `on('message')` re-references a worker's port in Node, so it is undone there too.
  const created: import('worker_threads').Worker[] = [];
  let started = false;
  class UnrefWorker extends RealWorker {
    constructor(...args: ConstructorParameters<typeof RealWorker>) {
      super(...args);
      created.push(this);
      if (started) this.unref();
    }
    override on(event: string | symbol, listener: (...a: any[]) => void): this {
      super.on(event, listener);
      if (started) this.unref();
      return this;
    }
  }
  class FileBackedBlob extends OrigBlob {
    __file?: string;
    constructor(parts: unknown[], opts?: unknown) {
      super(parts, opts);
      const first = Array.isArray(parts) && typeof parts[0] === 'string' ? (parts[0] as string) : '';
      if (first.startsWith('var WasmBackendModuleThreadedSimd')) {
        writeFileSync(mainPath, prelude + parts.join(''));
      } else if (first.includes('var Module={}') && first.includes('worker_threads')) {
        writeFileSync(workerPath, parts.join('') + workerFix);
        this.__file = workerPath;
      }
    }
  }
  try {
    g.Blob = FileBackedBlob;
    URL.createObjectURL = ((b: any) => (b?.__file ? b.__file : origCreate(b))) as typeof URL.createObjectURL;
    (workerThreads as { Worker: typeof RealWorker }).Worker = UnrefWorker;
    os.cpus = () => {
      const c = realCpus.call(os);
      return Array.from({ length: Math.max(c.length, 2 * want) }, (_, i) => c[i % c.length]);
    };
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
    wasm.setThreadsCount(want);
    const ok = await tf.setBackend('wasm');
    await tf.ready();
    if (!ok) throw new Error('tfjs-backend-wasm failed to initialise');
    started = true;
    for (const w of created) w.unref();
  } finally {
    g.Blob = OrigBlob;
    URL.createObjectURL = origCreate;
    os.cpus = realCpus;
    (workerThreads as { Worker: typeof RealWorker }).Worker = RealWorker;
  }
  return { threads: wasm.getThreadsCount() };
}
