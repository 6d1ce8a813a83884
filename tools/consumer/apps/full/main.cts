// Node CommonJS: every package through require(), one small call each.
import tf = require('@tensorflow/tfjs-core');
import core = require('@fae/core');
import encoders = require('@fae/encoders');
import adapter = require('@fae/adapter');
import decoders = require('@fae/decoders');
import diffusion = require('@fae/diffusion');
import flow = require('@fae/flow');
import evaluation = require('@fae/eval');

async function main(): Promise<void> {
  const info = await core.initBackend('wasm');
  const dino = encoders.createBackbone({ model_type: 'dinov2', hidden_size: 32, num_attention_heads: 2, num_hidden_layers: 2, patch_size: 4, image_size: 16, mlp_ratio: 2 });
  const features = dino.features(tf.zeros([1, 16, 16, 3])); // [1, 4, 4, 32]
  const fae = new decoders.FeatureAutoEncoder({ inputDim: 32, latentChannels: 4, heads: 2, headDim: 8, gridSize: 4 }, { depth: 1, heads: 2 });
  const latent = fae.encode(features); // [1, 4, 4, 4]
  const enc = new adapter.SingleAttentionEncoder({ inputDim: 32, latentChannels: 4, heads: 2, headDim: 8, gridSize: 4 });
  const tar = new flow.TarFlow({ inChannels: 4, imgSize: 4, patchSize: 1, channels: 16, numBlocks: 2, layersPerBlock: 1, headDim: 8 });
  const bpd = tar.bitsPerDim(latent);
  const dit = new diffusion.LightningDiT({ inputSize: 4, patchSize: 1, inChannels: 4, hiddenSize: 16, depth: 1, numHeads: 2, numClasses: 10 }, { seed: 0 });
  const { psnr } = await evaluation.psnrSsimBatch(tf.ones([1, 4, 4, 1]), tf.fill([1, 4, 4, 1], 0.9), { dataRange: 1, ssim: false });
  const out = { backend: info.backend, feature: features.shape, latent: latent.shape, bpd: bpd.shape, encoder: enc.parameterCount(), dit: dit.parameterCount(), psnr };
  tf.dispose([features, latent, bpd]);
  [dino, fae, enc, tar, dit].forEach((m) => m.dispose());
  console.log(`RESULT ${JSON.stringify(out)}`);
}
main().catch((e) => {
  console.error(e);
  throw e;
});
