// `npm run bench` (in packages/encoders): images/s of the encoders' feature extraction
// (preprocessed pixels -> patch features [B, h, w, D]) for DINOv2-S/14 and -B/14 at 224 and
// SigLIP2-B/16 at 256, random weights of the real shapes, on one backend. Prints a markdown table
// naming the machine and backend and writes bench/out/encoders-<backend>.json.
//
//   npm run bench -- --backend wasm --batch 2 --iters 2 --threads 2 --presets dinov2-small,dinov2-base,siglip2-base-patch16-256
//
// Default backend wasm; cpu (pure JS) is very slow: use --batch 1 --iters 1 there.
// `@fae/*` imports resolve to the packages' sources (no build needed).
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { register } from 'node:module';
import { cpus, platform, release } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = pathToFileURL(resolve(here, '..', '..', '..') + '/').href;
register(`data:text/javascript,${encodeURIComponent(`
  export async function resolve(specifier, context, next) {
    const m = /^@fae\\/([a-z]+)$/.exec(specifier);
    if (m) return { url: ${JSON.stringify(root)} + (m[1] === 'testing' ? 'tools/testing/src/index.ts' : 'packages/' + m[1] + '/src/index.ts'), shortCircuit: true, format: 'module' };
    return next(specifier, context);
  }`)}`);

const args = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : dflt;
};
const backend = arg('backend', process.env.FAE_BACKEND ?? 'wasm');
const batch = Number(arg('batch', backend === 'cpu' ? '1' : '2'));
const iters = Number(arg('iters', backend === 'cpu' ? '1' : '2'));
const presetNames = arg('presets', 'dinov2-small,dinov2-base,siglip2-base-patch16-256').split(',');
const threads = args.includes('--threads') ? Number(arg('threads', '0')) : undefined; // wasm threads (default: all cores)

// WebGPU on a CPU-only machine needs software Vulkan in the environment before the process starts.
const { softwareVulkanEnv } = await import('../../../tools/testing/src/backends-env.js');
const vk = softwareVulkanEnv();
if (backend === 'webgpu' && Object.keys(vk).length && !process.env.FAE_BENCH_CHILD) {
  const r = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, ...vk, FAE_BENCH_CHILD: '1' } });
  process.exit(r.status ?? 1);
}

const tf = await import('@tensorflow/tfjs-core');
const { initBackend } = await import('@fae/core');
const { PRESETS, createBackbone } = await import('@fae/encoders');

const info = await initBackend(backend, threads ? { wasmThreads: threads } : {});
const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${platform()} ${release()}`;
const rows: Array<Record<string, string | number>> = [];
for (const name of presetNames) {
  const preset = PRESETS[name];
  if (!preset) throw new Error(`unknown preset '${name}' (known: ${Object.keys(PRESETS).join(', ')})`);
  tf.engine().startScope();
  const t0 = performance.now();
  const model = createBackbone(preset.configJson, name); // random weights of the real shapes
  const buildMs = performance.now() - t0;
  const px = tf.randomNormal([batch, preset.imageSize, preset.imageSize, 3], 0, 1, 'float32', 1);
  const once = async () => {
    const f = model.features(px);
    await f.data();
    f.dispose();
  };
  const w0 = performance.now();
  await once(); // warm-up: kernel compilation, weight uploads
  const warmMs = performance.now() - w0;
  const times: number[] = [];
  for (let i = 0; i < iters; i++) {
    const s = performance.now();
    await once();
    times.push(performance.now() - s);
  }
  const median = times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
  rows.push({
    preset: name, params_M: +(preset.parameters / 1e6).toFixed(2), resolution: preset.imageSize, tokens: preset.grid ** 2 + (name.startsWith('dinov2') ? 1 : 0),
    batch, ms_per_batch: +median.toFixed(0), images_per_s: +((batch * 1000) / median).toFixed(3), warmup_ms: +warmMs.toFixed(0), build_ms: +buildMs.toFixed(0),
  });
  px.dispose();
  model.dispose();
  tf.engine().endScope();
}

const result = { benchmark: 'encoders-features', machine, backend: info.backend, adapter: info.adapter, features: info.features, batch, iters, date: new Date().toISOString(), rows };
const outDir = join(here, 'out');
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, `encoders-${info.backend}.json`), JSON.stringify(result, null, 2));
console.log(`\nmachine: ${machine}`);
console.log(`backend: ${info.backend} (${info.adapter ?? ''}${info.features.length ? `; ${info.features.join(', ')}` : ''}), median of ${iters} after a warm-up\n`);
const cols = Object.keys(rows[0]);
console.log(`| ${cols.join(' | ')} |`);
console.log(`| ${cols.map(() => '---').join(' | ')} |`);
for (const r of rows) console.log(`| ${cols.map((c) => r[c]).join(' | ')} |`);
// wasm worker threads keep Node alive: exit explicitly.
process.exit(0);
