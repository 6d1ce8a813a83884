// The browser app: loads the example's shipped checkpoints as one @fae/pipeline FaePipeline, starts
// WebGPU (falling back to wasm), generates digits of a chosen class with either generator (one
// LatentGenerator interface) with a live progress bar, and shows reconstructions.
import * as tf from '@tensorflow/tfjs-core'; // first: the tfjs engine every other copy then shares
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreads from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { imageGrid, initBackend, parseSafetensors, type BackendInfo, type RawImage } from '@fae/core';
import { FaePipeline } from '@fae/pipeline';

const CHECKPOINTS = new URL(`${import.meta.env.BASE_URL}checkpoints`, location.href).href;
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $<HTMLParagraphElement>('status');
const progress = $<HTMLProgressElement>('progress');
const button = $<HTMLButtonElement>('generate');

function setStatus(text: string, state?: string): void {
  status.textContent = text;
  if (state) status.dataset.state = state;
}

/** WebGPU when the browser has a working adapter, else wasm (files served from node_modules by Vite). */
async function startBackend(): Promise<BackendInfo> {
  setWasmPaths({ 'tfjs-backend-wasm.wasm': wasmPlain, 'tfjs-backend-wasm-simd.wasm': wasmSimd, 'tfjs-backend-wasm-threaded-simd.wasm': wasmThreads });
  try {
    return await initBackend('webgpu');
  } catch (e) {
    console.warn(`WebGPU unavailable, using wasm: ${(e as Error).message}`);
    try {
      return await initBackend('wasm');
    } catch (e2) {
      // initBackend describes the started wasm backend by importing its package by name, which a
      // browser cannot resolve; the backend itself is running by then.
      if (tf.getBackend() !== 'wasm') throw e2;
      return { backend: 'wasm', adapter: 'WebAssembly (XNNPACK)', features: [], tried: [] };
    }
  }
}

async function draw(canvas: HTMLCanvasElement, images: tf.Tensor, cols: number, labels?: string[]): Promise<void> {
  const grid: RawImage = await imageGrid(images, { cols, range: [0, 1], labels, padding: 2 });
  const rgba = new Uint8ClampedArray(grid.width * grid.height * 4);
  for (let i = 0; i < grid.width * grid.height; i++) {
    rgba[4 * i] = grid.data[3 * i];
    rgba[4 * i + 1] = grid.data[3 * i + 1];
    rgba[4 * i + 2] = grid.data[3 * i + 2];
    rgba[4 * i + 3] = 255;
  }
  canvas.width = grid.width;
  canvas.height = grid.height;
  canvas.style.width = `${grid.width * 3}px`;
  canvas.getContext('2d')!.putImageData(new ImageData(rgba, grid.width, grid.height), 0, 0);
}

/** The held-out digits shipped beside the checkpoints: uint8 [N, 28, 28] + labels. */
async function heldOutDigits(n: number): Promise<{ images: tf.Tensor4D; labels: number[] }> {
  const res = await fetch(`${CHECKPOINTS}/heldout-digits.safetensors`);
  if (!res.ok) throw new Error(`heldout-digits.safetensors: HTTP ${res.status}`);
  const store = parseSafetensors(new Uint8Array(await res.arrayBuffer()), 'heldout-digits.safetensors');
  const pixels = (await store.read('pixels')) as Uint8Array;
  const labels = Array.from(await store.read('labels') as Int32Array).slice(0, n);
  const images = tf.tidy(() => {
    const grey = tf.div(tf.tensor4d(Float32Array.from(pixels.subarray(0, n * 784)), [n, 28, 28, 1]), 255); // [n, 28, 28, 1] in [0, 1]
    return tf.tile(grey, [1, 1, 1, 3]) as tf.Tensor4D; // [n, 28, 28, 3] in [0, 1], what FaePipeline takes
  });
  return { images, labels };
}

async function showReconstructions(pipe: FaePipeline): Promise<void> {
  const { images } = await heldOutDigits(8);
  const both = tf.tidy(() => tf.concat([images, pipe.reconstruct(images)], 0)); // inputs, then reconstructions
  await draw($('reconstructions'), both, 8, [...Array(8).fill('IN'), ...Array(8).fill('OUT')]);
  tf.dispose([images, both]);
  $('reconstructions').dataset.state = 'done';
}

async function generate(pipe: FaePipeline): Promise<void> {
  const digit = Number($<HTMLSelectElement>('digit').value);
  const generator = $<HTMLSelectElement>('generator').value;
  const count = Number($<HTMLSelectElement>('count').value);
  const canvas = $<HTMLCanvasElement>('samples');
  button.disabled = true;
  canvas.dataset.state = 'running';
  progress.value = 0;
  const t0 = performance.now();
  setStatus(`Generating ${count} × “${digit}” with the ${generator === 'dit' ? 'LightningDiT' : 'TARFlow'}…`, 'running');
  try {
    const images = await pipe.generate({
      generator, labels: new Array(count).fill(digit), seed: Math.floor(Math.random() * 1e6),
      onProgress: (e) => {
        progress.value = e.step / e.steps;
      },
    });
    await draw(canvas, images, Math.min(count, 8), new Array(count).fill(String(digit)));
    images.dispose();
    progress.value = 1;
    canvas.dataset.state = 'done';
    setStatus(`Generated ${count} digits in ${((performance.now() - t0) / 1000).toFixed(1)} s on ${tf.getBackend()}.`, 'done');
  } catch (e) {
    canvas.dataset.state = 'error';
    throw e;
  } finally {
    button.disabled = false;
  }
}

async function main(): Promise<void> {
  const select = $<HTMLSelectElement>('digit');
  for (let d = 0; d < 10; d++) select.add(new Option(String(d), String(d), d === 3, d === 3));
  const info = await startBackend();
  setStatus(`Backend ${info.backend}${info.adapter ? ` (${info.adapter})` : ''}. Loading checkpoints…`);
  const pipe = await FaePipeline.load(CHECKPOINTS, { cache: false });
  await showReconstructions(pipe);
  button.disabled = false;
  button.addEventListener('click', () => generate(pipe).catch(fail));
  setStatus(`Ready on ${info.backend}${info.adapter ? ` (${info.adapter})` : ''}.`, 'ready');
  document.body.dataset.backend = info.backend;
}

function fail(e: unknown): void {
  $('error').textContent = String((e as Error)?.stack ?? e);
  setStatus('Failed.', 'error');
}

main().catch(fail);
