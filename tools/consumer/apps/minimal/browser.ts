// Browser: the same work, bundled by esbuild with no externals; the wasm backend's entry point makes
// the bundler include @tensorflow/tfjs-backend-wasm. Reports through the console.
import * as tf from '@tensorflow/tfjs-core';
import '@fae/core/backends/wasm';
import { initBackend } from '@fae/core';
import { LightningDiT, sample } from '@fae/diffusion';
import { psnrSsimBatch } from '@fae/eval';

async function main(): Promise<void> {
  const info = await initBackend('wasm');
  const model = new LightningDiT({ inputSize: 8, patchSize: 2, inChannels: 4, hiddenSize: 32, depth: 2, numHeads: 2, numClasses: 10 }, { seed: 0 });
  const latents = await sample({ model, labels: [3, 1], steps: 4, sampler: 'euler', seed: 1 });
  const images = tf.tidy(() => latents.tanh().add(1).div(2));
  const dimmer = tf.tidy(() => images.mul(0.9));
  const { psnr } = await psnrSsimBatch(images, dimmer, { dataRange: 1 });
  const mean = tf.tidy(() => latents.mean().dataSync()[0]);
  tf.dispose([latents, images, dimmer]);
  model.dispose();
  console.log(`RESULT ${JSON.stringify({ backend: info.backend, features: info.features, mean, psnr, tensors: tf.memory().numTensors })}`);
}
main().catch((e) => console.log(`FAILED ${(e as Error).stack ?? e}`));
