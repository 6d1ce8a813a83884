// One-off (run once when the component format landed): rewrites every component folder under
// checkpoints/ in @fae/core's component format (config.json {"class", "fae_format": 1, "config",
// "metadata"} + model.safetensors), keeping the weights bit for bit. Training notes of the old
// config.json ("trained", the encoder's "fae_pretraining") become string metadata.
//   node --import tsx examples/cli/scripts/rewrite-checkpoints.ts [checkpoints folder]
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isComponentConfigJson, loadComponent, parseSafetensors, readFloat32, saveComponent } from '@fae/core';
import '@fae/adapter';
import '@fae/decoders';
import '@fae/diffusion';
import '@fae/encoders';
import '@fae/flow';
import '../src/models/components.js';
import { SHIPPED_CHECKPOINTS } from '../src/checkpoints.js';

const root = resolve(process.argv[2] ?? SHIPPED_CHECKPOINTS);

async function tensors(path: string): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
  const store = parseSafetensors(new Uint8Array(await readFile(path)), path);
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const k of store.keys()) out.set(k, { shape: store.info(k)!.shape, data: await readFloat32(store, k) });
  return out;
}

await tf.setBackend('cpu');
for (const name of (await readdir(root, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort()) {
  const dir = join(root, name);
  const files = await readdir(dir);
  if (!files.includes('config.json') || !files.includes('model.safetensors')) continue;
  const old = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  if (isComponentConfigJson(old) && old.fae_format === 1) {
    console.log(`${name}: already in the component format`);
    continue;
  }
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries((old.trained as Record<string, unknown>) ?? {})) metadata[k] = typeof v === 'string' ? v : JSON.stringify(v);
  if (typeof old.fae_pretraining === 'string') metadata.pretraining = old.fae_pretraining;
  const before = await tensors(join(dir, 'model.safetensors'));
  const module = await loadComponent(dir);
  await saveComponent(dir, module, { metadata });
  module.dispose();
  const after = await tensors(join(dir, 'model.safetensors'));
  if (after.size !== before.size) throw new Error(`${name}: ${before.size} tensors before, ${after.size} after`);
  for (const [k, a] of before) {
    const b = after.get(k);
    if (!b || b.shape.join() !== a.shape.join() || b.data.some((v, i) => !Object.is(v, a.data[i]))) throw new Error(`${name}: tensor ${k} changed`);
  }
  const json = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
  console.log(`${name}: ${json.class}, ${after.size} tensors identical, metadata ${JSON.stringify(metadata)}`);
}
