// Node CommonJS (require): the same work as main.mts.
import tf = require('@tensorflow/tfjs-core');
import core = require('@fae/core');
import diffusion = require('@fae/diffusion');
import evaluation = require('@fae/eval');

async function main(): Promise<void> {
  const info = await core.initBackend('wasm');
  const model = new diffusion.LightningDiT({ inputSize: 8, patchSize: 2, inChannels: 4, hiddenSize: 32, depth: 2, numHeads: 2, numClasses: 10 }, { seed: 0 });
  const latents = await diffusion.sample({ model, labels: [3, 1], steps: 4, sampler: 'euler', seed: 1 });
  const images = tf.tidy(() => latents.tanh().add(1).div(2));
  const dimmer = tf.tidy(() => images.mul(0.9));
  const { psnr } = await evaluation.psnrSsimBatch(images, dimmer, { dataRange: 1 });
  const mean = tf.tidy(() => latents.mean().dataSync()[0]);
  tf.dispose([latents, images, dimmer]);
  model.dispose();
  console.log(`RESULT ${JSON.stringify({ backend: info.backend, features: info.features, mean, psnr, tensors: tf.memory().numTensors })}`);
}
main().catch((e) => {
  console.error(e);
  throw e;
});
