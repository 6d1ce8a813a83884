import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends } from '@fae/testing';
import { Rng } from '@fae/core';
import { TarFlow, createFlowTrainer, flowLoss, latentBatches } from '@fae/flow';

/** 32 latents 4x4x2 in 2 classes: class c is N(mu_c, 0.3^2) with a fixed per-class pattern. */
function tinyDataset(): { latents: tf.Tensor; labels: number[] } {
  const rng = new Rng(5);
  const n = 32;
  const d = 4 * 4 * 2;
  const pattern = [rng.normal([d], 0, 1), rng.normal([d], 0, 1)];
  const labels = Array.from({ length: n }, (_, i) => i % 2);
  const latents = tf.tidy(() => {
    const means = tf.stack(labels.map((c) => pattern[c])); // [N, d]
    return tf.reshape(tf.add(means, rng.normal([n, d], 0, 0.3)), [n, 4, 4, 2]);
  });
  tf.dispose(pattern);
  return { latents, labels };
}

describeBackends('training', () => {
  it('a tiny flow lowers its NLL on a tiny latent set through core Trainer + AdamW', async () => {
    const model = new TarFlow({ inChannels: 2, imgSize: 4, patchSize: 2, channels: 16, headDim: 8, numBlocks: 2, layersPerBlock: 1, numClasses: 2, seed: 3 });
    const { latents, labels } = tinyDataset();
    const data = latentBatches(latents, labels, { batchSize: 8, seed: 1 });
    const { trainer, optimizer } = createFlowTrainer({ model, data, steps: 40, lr: 5e-3, warmupSteps: 5, noiseStd: 0.05, dropLabel: 0.1, seed: 2 });
    const nllOf = () => tf.tidy(() => tf.mean(model.bitsPerDim(latents, labels)));
    const bpdBefore = (await nllOf().data())[0];
    const { losses } = await trainer.run();
    const bpdAfter = (await nllOf().data())[0];
    const first = losses.slice(0, 5).reduce((a, b) => a + b) / 5;
    const last = losses.slice(-5).reduce((a, b) => a + b) / 5;
    console.log(`loss ${first.toFixed(3)} -> ${last.toFixed(3)}, bits/dim ${bpdBefore.toFixed(3)} -> ${bpdAfter.toFixed(3)}`);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(last).toBeLessThan(first - 0.3);
    expect(bpdAfter).toBeLessThan(bpdBefore - 0.4);
    optimizer.dispose();
    latents.dispose();
    model.dispose();
  });

  it('shift-only models update the prior variance toward mean z^2 (upstream update_prior); noise and label drop come from the rng', async () => {
    const model = new TarFlow({ inChannels: 2, imgSize: 4, patchSize: 2, channels: 16, headDim: 8, numBlocks: 2, layersPerBlock: 1, numClasses: 2, nvp: false, seed: 4 });
    const { latents, labels } = tinyDataset();
    const y = tf.tensor1d(labels, 'int32');
    const z2 = tf.tidy(() => tf.mean(tf.square(model.forward(latents, labels).z), 0)); // [T, D]
    const before = tf.memory().numTensors;
    const loss = flowLoss(model, { latents, labels: y }, new Rng(0));
    expect(tf.memory().numTensors).toBe(before + 1);
    const expected = tf.tidy(() => tf.add(1, tf.mul(0.1, tf.sub(z2, 1)))); // var was ones
    const got = await model.priorVariance.data();
    const want = await expected.data();
    for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i], 5);
    // Same rng state, same loss; a different one draws different noise.
    const a = flowLoss(model, { latents, labels: y }, new Rng(1), { noiseStd: 0.5, dropLabel: 0.5, updatePrior: false });
    const b = flowLoss(model, { latents, labels: y }, new Rng(1), { noiseStd: 0.5, dropLabel: 0.5, updatePrior: false });
    const c = flowLoss(model, { latents, labels: y }, new Rng(2), { noiseStd: 0.5, dropLabel: 0.5, updatePrior: false });
    const [va, vb, vc] = [(await a.data())[0], (await b.data())[0], (await c.data())[0]];
    expect(va).toBe(vb);
    expect(va).not.toBe(vc);
    tf.dispose([y, z2, loss, expected, a, b, c, latents]);
    model.dispose();
  });
});
