// The full pipeline on small random models, shared by the Node ESM script and the browser bundle:
// sample latents with a LightningDiT, decode them to 16x16 images with a fixed map, encode the images
// with a small DINOv2, then PSNR/SSIM and FID (features of two batches) on tensors.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, withSeededRandom, type BackendName } from '@fae/core';
import { LightningDiT, sample } from '@fae/diffusion';
import { createBackbone } from '@fae/encoders';
import { FeatureStatistics, frechetDistance, psnrSsimBatch } from '@fae/eval';

export interface FullResult {
  backend: string;
  latentMean: number;
  featureShape: number[];
  psnr: number[];
  ssim: number[];
  fid: number;
  tensors: number;
}

/** Mean of a tensor, read asynchronously (WebGPU in browsers cannot read back synchronously on every adapter). */
async function meanOf(t: tf.Tensor): Promise<number> {
  const m = t.mean();
  const [v] = await m.data();
  m.dispose();
  return v;
}

export async function runFull(backend: BackendName): Promise<FullResult> {
  const info = await initBackend(backend);
  const dit = new LightningDiT({ inputSize: 8, patchSize: 2, inChannels: 4, hiddenSize: 32, depth: 2, numHeads: 2, numClasses: 10 }, { seed: 0 });
  const dino = withSeededRandom(0, () => createBackbone({ model_type: 'dinov2', hidden_size: 32, num_attention_heads: 2, num_hidden_layers: 2, patch_size: 4, image_size: 16, mlp_ratio: 2 }));
  const latents = await sample({ model: dit, labels: [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3], steps: 4, sampler: 'euler', seed: 1 }); // [16, 8, 8, 4]
  // [16, 16, 16, 3]: the samples' first 3 channels upsampled, with a seeded texture so that the features
  // span their 32 dimensions (a well-conditioned covariance keeps FID comparable across backends)
  const images = tf.tidy(() => {
    const smooth = tf.image.resizeBilinear(latents.slice([0, 0, 0, 0], [-1, -1, -1, 3]).sigmoid() as tf.Tensor4D, [16, 16]);
    return smooth.mul(0.5).add(tf.randomUniform(smooth.shape, 0, 0.5, 'float32', 3));
  });
  const noisy = tf.tidy(() => images.mul(0.8).add(0.1)); // a contrast change the metrics must see
  const { psnr, ssim } = await psnrSsimBatch(images, noisy, { dataRange: 1 });
  const featuresA = tf.tidy(() => dino.features(images.mul(2).sub(1)).reshape([-1, 32])); // [16 * 4 * 4, 32]
  const featuresB = tf.tidy(() => dino.features(noisy.mul(2).sub(1)).reshape([-1, 32]));
  const statsA = await new FeatureStatistics(32).addTensor(featuresA, { gram: 'float64' });
  const statsB = await new FeatureStatistics(32).addTensor(featuresB, { gram: 'float64' });
  const fid = frechetDistance(statsA.toGaussian(), statsB.toGaussian());
  const result = { backend: info.backend, latentMean: await meanOf(latents), featureShape: tf.tidy(() => dino.features(images).shape), psnr, ssim, fid, tensors: 0 };
  tf.dispose([latents, images, noisy, featuresA, featuresB]);
  dit.dispose();
  dino.dispose();
  result.tensors = tf.memory().numTensors;
  return result;
}
