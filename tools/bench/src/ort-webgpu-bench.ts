// The JS peer on the GPU (issue #18): onnxruntime-web's WebGPU execution provider (what
// transformers.js runs on) in Node, on Dawn through the `webgpu` package's navigator.gpu, for the ViT-B
// block and DINOv2-B/14 encode of gpu-bench.ts (same shapes). Input in a GPU buffer, output kept on
// the GPU, one probe element read back per run (as the tfjs side); median of 10 after 2 warm-ups.
//   node ort-webgpu-bench.mjs [--quick] [--out DIR]
// Needs onnxruntime-web (not a dependency of the repository: tools/bench/device/prepare.sh --ort
// installs it into .device/ and bundles this script).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dinov2Graph, vitBlockGraph } from './ort-webgpu-graphs.js';
import { vitBlockFlops } from './model-flops.js';

const quick = process.argv.includes('--quick');
const outIdx = process.argv.indexOf('--out');
const outDir = outIdx > 0 ? process.argv[outIdx + 1] : join(process.cwd(), 'bench-out');

const G = globalThis as any;
const dawn = await import('webgpu' as string);
Object.assign(G, dawn.globals);
if (!G.navigator) Object.defineProperty(G, 'navigator', { value: {}, configurable: true, writable: true });
Object.defineProperty(G.navigator, 'gpu', { value: dawn.create([]), configurable: true });
// ort-web's threaded wasm memory is a SharedArrayBuffer; Dawn's Node bindings reject views of one in
// writeBuffer ("Invalid argument"): hand them a copy.
const queueProto = G.GPUQueue.prototype;
const writeBuffer = queueProto.writeBuffer;
queueProto.writeBuffer = function (buf: unknown, off: number, data: any, dataOff = 0, size?: number) {
  if (ArrayBuffer.isView(data) && data.buffer instanceof SharedArrayBuffer) {
    return writeBuffer.call(this, buf, off, (data as Uint8Array).slice(dataOff, size === undefined ? undefined : dataOff + size));
  }
  return size === undefined ? writeBuffer.call(this, buf, off, data, dataOff) : writeBuffer.call(this, buf, off, data, dataOff, size);
};
const keepAlive = setInterval(() => {}, 1000); // Dawn's callbacks need a live event loop
const ort = await import('onnxruntime-web/webgpu' as string);
// ort-web fetches its .wasm beside the bundle by URL, and with threads its .mjs too (to start workers
// from a blob), and Node's fetch has no file: URLs ("fetch failed" on Node 22, where SharedArrayBuffer
// makes it pick threads): hand it the bytes and one thread (the work runs on the GPU either way).
const ortDist = dirname(fileURLToPath(import.meta.resolve('onnxruntime-web/webgpu')));
ort.env.wasm.wasmBinary = readFileSync(join(ortDist, 'ort-wasm-simd-threaded.asyncify.wasm'));
ort.env.wasm.numThreads = 1;

interface Row {
  name: string;
  ms: number;
  flops: number;
  gflops: number;
  rate?: number;
  unit?: string;
  iters: number;
  note: string;
}

async function bench(name: string, graph: { model: Uint8Array; input: { name: string; dims: number[] } }, flops: number, items?: { n: number; unit: string }): Promise<Row> {
  const t0 = performance.now();
  const sess = await ort.InferenceSession.create(graph.model, {
    executionProviders: ['webgpu'],
    graphOptimizationLevel: 'all',
    preferredOutputLocation: { y: 'gpu-buffer', probe: 'cpu' },
  });
  const buildMs = performance.now() - t0;
  const n = graph.input.dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.sin(i * 0.37);
  let input: any;
  let note = `session in ${(buildMs / 1000).toFixed(1)} s; input in a GPU buffer`;
  try {
    const device: any = await ort.env.webgpu.device;
    const buf = device.createBuffer({ size: n * 4, usage: G.GPUBufferUsage.STORAGE | G.GPUBufferUsage.COPY_SRC | G.GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(buf, 0, data);
    input = ort.Tensor.fromGpuBuffer(buf, { dataType: 'float32', dims: graph.input.dims });
  } catch (e) {
    input = new ort.Tensor('float32', data, graph.input.dims);
    note = `session in ${(buildMs / 1000).toFixed(1)} s; input uploaded per run (${(e as Error).message})`;
  }
  const run = async () => {
    const out = await sess.run({ [graph.input.name]: input });
    const p = out.probe.data as Float32Array;
    if (!Number.isFinite(p[0])) throw new Error(`${name}: non-finite output ${p[0]}`);
    out.y.dispose?.();
  };
  for (let i = 0; i < 2; i++) await run();
  const times: number[] = [];
  for (let i = 0; i < 10; i++) {
    const s = performance.now();
    await run();
    times.push(performance.now() - s);
  }
  times.sort((a, b) => a - b);
  const ms = times[5];
  await sess.release();
  return { name, ms, flops, gflops: flops / ms / 1e6, ...(items ? { rate: (items.n * 1000) / ms, unit: items.unit } : {}), iters: 10, note };
}

const [B, T, D, H] = quick ? [2, 64, 192, 3] : [64, 256, 768, 12];
const results: Row[] = [];
const safe = async (f: () => Promise<Row>, name: string) => {
  try {
    const r = await f();
    results.push(r);
    console.error(`[ort] ${r.name}: ${r.ms.toFixed(2)} ms (${r.note})`);
  } catch (e) {
    console.error(`[ort] ${name} failed:`, e);
    results.push({ name, ms: NaN, flops: 0, gflops: NaN, iters: 0, note: `failed: ${(e as Error).message}` });
  }
};
await safe(() => bench(`ViT-B block fwd ${B}x${T}x${D}`, vitBlockGraph(B, T, D, H), vitBlockFlops(B, T, D)), 'ViT-B block fwd');
// DINOv2-B/14 at 224 px, batch 32 (quick: a 2-block 192-wide model at 56 px, batch 1)
const [db, img, dd, dh, depth] = quick ? [1, 56, 192, 3, 2] : [32, 224, 768, 12, 12];
const tokens = 1 + (img / 14) ** 2;
const dinoFlops = db * (depth * (vitBlockFlops(1, tokens, dd)) + 2 * (img / 14) ** 2 * dd * 3 * 14 * 14);
const dinoName = quick ? `DINOv2 tiny encode ${img}px, batch ${db}` : 'DINOv2-B/14 (dinov2-base) encode 224px, batch 32';
await safe(() => bench(dinoName, dinov2Graph(db, img, dd, dh, depth), dinoFlops, { n: db, unit: 'img/s' }), dinoName);

const adapter = await G.navigator.gpu.requestAdapter();
const info = adapter?.info ?? {};
const report = { engine: 'onnxruntime-web', ep: 'webgpu', ortVersion: ort.env.versions, adapter: [info.vendor, info.architecture, info.description].filter(Boolean).join(' '), node: process.version, date: new Date().toISOString(), quick, results };
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, `ort-webgpu${quick ? '-quick' : ''}.json`), JSON.stringify(report, null, 2));
console.log(`\nonnxruntime-web ${ort.env.versions?.web} WebGPU EP in Node ${process.version} on ${report.adapter}`);
console.log('| workload | ms | rate | GFLOP/s |\n| --- | --- | --- | --- |');
for (const r of results) console.log(`| ${r.name} | ${Number.isNaN(r.ms) ? r.note : r.ms.toFixed(2)} | ${r.rate ? `${r.rate.toFixed(1)} ${r.unit}` : ''} | ${Number.isNaN(r.gflops) ? '' : r.gflops.toFixed(0)} |`);
clearInterval(keepAlive);
process.exit(0);
