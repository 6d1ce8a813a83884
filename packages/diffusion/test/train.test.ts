import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends, expectClose, expectNoLeaks } from '@fae/testing';
import { AdamW, MemoryCheckpointStore, Rng, computeGrads, disposeGrads } from '@fae/core';
import {
  LightningDiT, DiffusionTrainer, flowMatchingLoss, sampleNoiseLevels, latentBatches, cosineLoss, type TimeConvention, type VelocityModel,
} from '@fae/diffusion';

/** A parameter-free "model": v = x * t, so the loss is a closed-form function of the draws. */
function probeModel(timeConvention: TimeConvention, seen?: tf.Tensor[]): VelocityModel {
  return {
    timeConvention, nullClass: 9,
    forward(x, t, y) {
      if (seen) seen.push(tf.keep(tf.clone(y)));
      return tf.tidy(() => tf.mul(x, tf.reshape(t, [-1, 1, 1, 1])));
    },
  };
}

const TINY = { inputSize: 2, patchSize: 1, inChannels: 2, hiddenSize: 16, depth: 1, numHeads: 2, numClasses: 2, useRope: true, useSwiglu: true, useRmsnorm: true };

describeBackends('flow-matching loss', () => {
  for (const convention of ['noise-at-1', 'data-at-1'] as const) {
    it(`${convention}: x_s = (1 - s) x + s eps, target and time in the model's convention (float64 check)`, async () => {
      const x = new Rng(1).normal([3, 2, 2, 2]);
      const xv = await x.data();
      const labels = tf.tensor1d([0, 1, 0], 'int32');
      const rng = new Rng(7);
      const replay = rng.clone();
      const { loss, noiseLevels } = await expectNoLeaks(() => flowMatchingLoss(probeModel(convention), x, labels, rng, { timeSampling: { kind: 'logit-normal' }, shift: 2.5 }), 'loss');
      // Replay the draws in float64.
      const s = sampleNoiseLevels(replay, 3, { kind: 'logit-normal' }, 2.5);
      expect(Array.from(noiseLevels)).toEqual(Array.from(s));
      const eps = await replay.normal([3, 2, 2, 2]).data();
      let sum = 0;
      for (let i = 0; i < xv.length; i++) {
        const si = s[Math.floor(i / 8)];
        const xs = (1 - si) * xv[i] + si * eps[i];
        const tModel = convention === 'noise-at-1' ? si : 1 - si;
        const target = convention === 'noise-at-1' ? eps[i] - xv[i] : xv[i] - eps[i];
        sum += (xs * tModel - target) ** 2;
      }
      await expectClose(loss, sum / xv.length, 1e-5);
      tf.dispose([x, labels, loss]);
    });
  }

  it('label dropout uses the null class with the given probability, reproducibly; cosine term matches float64', async () => {
    const x = tf.zeros([200, 1, 1, 2]);
    const labels = tf.zeros([200], 'int32');
    const seen: tf.Tensor[] = [];
    const m = probeModel('data-at-1', seen);
    flowMatchingLoss(m, x, labels, new Rng(3), { labelDropout: 0.3 }).loss.dispose();
    flowMatchingLoss(m, x, labels, new Rng(3), { labelDropout: 0.3 }).loss.dispose();
    const [y0, y1] = [Array.from(await seen[0].data()), Array.from(await seen[1].data())];
    const dropped = y0.filter((v) => v === 9).length;
    expect(dropped).toBeGreaterThan(40);
    expect(dropped).toBeLessThan(80);
    expect(y1).toEqual(y0);
    tf.dispose(seen);
    const a = new Rng(4).normal([2, 3, 5]);
    const b = new Rng(5).normal([2, 3, 5]);
    const [av, bv] = [await a.data(), await b.data()];
    let ref = 0;
    for (let r = 0; r < 6; r++) {
      let dot = 0, na = 0, nb = 0;
      for (let c = 0; c < 5; c++) {
        dot += av[r * 5 + c] * bv[r * 5 + c];
        na += av[r * 5 + c] ** 2;
        nb += bv[r * 5 + c] ** 2;
      }
      ref += 1 - dot / Math.sqrt(na * nb);
    }
    await expectClose(cosineLoss(a, b), ref / 6, 1e-5);
    tf.dispose([x, labels, a, b]);
  });
});

describeBackends('DiffusionTrainer', () => {
  it('a tiny LightningDiT overfits a tiny latent set (loss falls substantially), EMA tracks the weights', async () => {
    // Two labelled latents: the conditional targets are deterministic, so the loss can approach 0.
    const data = new Rng(10).normal([2, 2, 2, 2]);
    const labels = tf.tensor1d([0, 1], 'int32');
    const model = new LightningDiT(TINY, { seed: 2 });
    const evalLoss = async () => { // the same 64 draws before and after training
      const bx = tf.tile(data, [32, 1, 1, 1]);
      const by = tf.tile(labels, [32]);
      const { loss } = flowMatchingLoss(model, bx, by, new Rng(123));
      const v = (await loss.data())[0];
      tf.dispose([bx, by, loss]);
      return v;
    };
    const before = await evalLoss();
    const [repData, repLabels] = [tf.tile(data, [4, 1, 1, 1]), tf.tile(labels, [4])];
    const trainer = new DiffusionTrainer({
      model, data: latentBatches(repData, repLabels, { batchSize: 8, seed: 1 }), steps: 50, lr: 1e-2, emaDecay: 0.9, labelDropout: 0, seed: 5,
    });
    await trainer.run({ until: 1 }); // creates the optimizer's moment slots
    const live = tf.memory().numTensors;
    await trainer.run();
    expect(tf.memory().numTensors).toBe(live); // steady state: nothing grows per step
    const after = await evalLoss();
    expect(before).toBeGreaterThan(1.5); // zero-initialised output: E|eps - x|^2 ~ 2
    expect(after, `loss before ${before}, after ${after}`).toBeLessThan(0.5 * before);
    const copy = new LightningDiT(TINY);
    trainer.copyEmaTo(copy);
    const diff = await tf.max(tf.abs(tf.sub(model.finalLayer.linear.weight, copy.finalLayer.linear.weight))).data();
    expect(diff[0]).toBeGreaterThan(0);
    expect(Array.from(await copy.finalLayer.linear.weight.data()).some((v) => v !== 0)).toBe(true);
    trainer.dispose();
    [model, copy].forEach((m) => m.dispose());
    tf.dispose([data, labels, repData, repLabels]);
  });

  it('checkpoint and resume continue with exactly the losses of an uninterrupted run', async () => {
    const data = new Rng(20).normal([6, 2, 2, 2]);
    const labels = tf.tensor1d([0, 1, 0, 1, 1, 0], 'int32');
    const make = (store?: MemoryCheckpointStore) => {
      const model = new LightningDiT(TINY, { seed: 3 });
      const trainer = new DiffusionTrainer({
        model, data: latentBatches(data, labels, { batchSize: 3, seed: 2 }), steps: 6, lr: 1e-3, seed: 9, cosineLoss: true,
        checkpoint: store ? { store, every: 3 } : undefined,
      });
      return { model, trainer };
    };
    const full = make();
    const ref = (await full.trainer.run()).losses;
    const store = new MemoryCheckpointStore();
    const first = make(store);
    await first.trainer.run({ until: 3 });
    const second = make(store);
    expect(await second.trainer.resume()).toBe(3);
    const rest = (await second.trainer.run()).losses;
    expect(rest.length).toBe(3);
    for (let i = 0; i < 3; i++) expect(rest[i]).toBeCloseTo(ref[3 + i], 5);
    for (const r of [full, first, second]) {
      r.trainer.dispose();
      r.model.dispose();
    }
    tf.dispose([data, labels]);
  });
});

describeBackends('LightningDiT training step', () => {
  it('loss gradients are finite on every backend and AdamW steps reduce a fixed-draw loss', async () => {
    const data = new Rng(30).normal([2, 2, 2, 2]);
    const labels = tf.tensor1d([0, 1], 'int32');
    const model = new LightningDiT(TINY, { seed: 4 });
    const opt = new AdamW(model.trainableVariables(), { lr: 1e-2, weightDecay: 0 });
    const evalLoss = async () => {
      const { loss } = flowMatchingLoss(model, data, labels, new Rng(77));
      const v = (await loss.data())[0];
      loss.dispose();
      return v;
    };
    const before = await evalLoss();
    for (let step = 0; step < 15; step++) {
      const { loss, grads } = computeGrads(() => flowMatchingLoss(model, data, labels, new Rng(77)).loss, model.trainableVariables());
      for (const [k, g] of grads) expect(Array.from(await g.data()).every(Number.isFinite), k).toBe(true);
      opt.step(grads);
      disposeGrads(grads);
      loss.dispose();
    }
    const after = await evalLoss();
    expect(after, `before ${before}, after ${after}`).toBeLessThan(0.5 * before);
    opt.dispose();
    model.dispose();
    tf.dispose([data, labels]);
  });
});
