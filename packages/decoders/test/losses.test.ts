import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends, expectClose, expectNoLeaks, ref64, ref64conv, ref64fae } from '@fae/testing';
import { ShapeError, computeGrads } from '@fae/core';
import { ConfigError } from '@fae/core';
import {
  PIXEL_DECODER_PRESETS, PIXEL_OBJECTIVE_PRESETS, PatchDiscriminator, PixelDecoder, PixelDecoderObjective, adaptiveGanWeight, pixelObjectivePreset, featureAutoEncoderLoss, featureCosineSimilarity,
  generatorAdversarialLoss, hingeDiscriminatorLoss, pixelReconstructionLoss, stopGradient, type PixelDecoderConfig,
} from '@fae/decoders';
import { randomize } from './helpers.js';

const PIX: Partial<PixelDecoderConfig> = { inputDim: 6, width: 8, depth: 1, heads: 2, mlpDim: 12, gridSize: 4, imageSize: 32, layerNormEps: 1e-6 };

const scalar = async (t: tf.Tensor) => (await t.data())[0];

describeBackends('FAE losses', () => {
  it('stage Ib loss = squared error + beta * KL, in both reductions', async () => {
    const [x, y, m, lv] = [ref64.randomNd([2, 2, 2, 5], 1), ref64.randomNd([2, 2, 2, 5], 2), ref64.randomNd([2, 2, 2, 3], 3), ref64.randomNd([2, 2, 2, 3], 4)];
    const [xt, yt, mt, lvt] = [x, y, m, lv].map(ref64.toTensor);
    for (const reduction of ['mean', 'sum'] as const) {
      const l = await expectNoLeaks(() => featureAutoEncoderLoss(xt, yt, mt, lvt, { beta: 0.01, reduction }));
      let se = 0;
      for (let i = 0; i < x.data.length; i++) se += (x.data[i] - y.data[i]) ** 2;
      const rec = reduction === 'mean' ? se / x.data.length : se / 2;
      const kl = ref64fae.gaussianKl(m, lv, reduction);
      await expectClose(l.rec, rec, 1e-5, 'rec');
      await expectClose(l.kl, kl, 1e-5, 'kl');
      await expectClose(l.loss, rec + 0.01 * kl, 1e-5, 'loss');
      tf.dispose([l.loss, l.rec, l.kl]);
    }
    const cos = await expectNoLeaks(() => featureCosineSimilarity(xt, xt));
    await expectClose(cos, 1, 1e-5);
    expect(() => featureAutoEncoderLoss(xt, mt, mt, lvt)).toThrow(ShapeError);
    tf.dispose([xt, yt, mt, lvt, cos]);
  });

  it('pixel reconstruction, hinge and adversarial losses match their definitions', async () => {
    const [a, b] = [ref64.randomNd([2, 4, 4, 3], 5), ref64.randomNd([2, 4, 4, 3], 6)];
    const [at, bt] = [a, b].map(ref64.toTensor);
    for (const kind of ['l1', 'l2'] as const) {
      const l = await expectNoLeaks(() => pixelReconstructionLoss(at, bt, kind));
      await expectClose(l, ref64fae.reconstruction(a, b, kind), 1e-5, kind);
      l.dispose();
    }
    const h = await expectNoLeaks(() => hingeDiscriminatorLoss(at, bt));
    await expectClose(h, ref64fae.hingeDiscriminatorLoss(a, b), 1e-5, 'hinge');
    const g = generatorAdversarialLoss(bt);
    await expectClose(g, -b.data.reduce((s, v) => s + v, 0) / b.data.length, 1e-5, 'adversarial');
    const w = adaptiveGanWeight(at, tf.mul(bt, 1e-9));
    expect(await scalar(w)).toBe(1e4); // clipped
    tf.dispose([at, bt, h, g, w]);
  });

  it('stopGradient passes values and blocks gradients', async () => {
    const x = tf.tensor1d([1, -2, 3]);
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.add(tf.square(v), tf.mul(stopGradient(v), v))))(x);
    await expectClose(g, [2 + 1, -4 - 2, 6 + 3], 1e-6); // d/dv (v^2 + c v) with c = v held constant
    tf.dispose([x, g]);
  });

  it('PatchDiscriminator matches the float64 PatchGAN reference (batch norm and none)', async () => {
    for (const norm of ['batch', 'none'] as const) {
      const d = new PatchDiscriminator({ ndf: 4, nLayers: 2, norm });
      const sd = await randomize(d, 40, 0.3);
      expect([...sd.keys()].includes('main.3.weight')).toBe(norm === 'batch'); // BatchNorm2d's affine weight
      expect([...sd.keys()]).toContain('main.8.weight');
      const x = ref64.randomNd([2, 13, 12, 3], 41);
      const xt = ref64.toTensor(x);
      const y = await expectNoLeaks(() => d.forward(xt));
      const ref = ref64fae.patchDiscriminator(x, sd, { nLayers: 2, norm });
      expect(y.shape).toEqual(ref.shape);
      await expectClose(y, ref.data, 1e-4, norm);
      tf.dispose([xt, y]);
      d.dispose();
    }
    const d = new PatchDiscriminator({ ndf: 4, nLayers: 3 });
    const small = tf.zeros([1, 20, 20, 3]);
    expect(() => d.forward(small)).toThrow(/at least 24/);
    small.dispose();
    d.dispose();
  });

  it('the objective feeds [-1, 1] images to the perceptual loss and weighs the terms', async () => {
    const dec = new PixelDecoder(PIX);
    await randomize(dec, 50, 0.3, { layernorm_before: 1, layernorm_after: 1, 'decoder_norm.weight': 1 });
    const seen: number[] = [];
    const perceptual = (p: tf.Tensor, t: tf.Tensor) => tf.tidy(() => {
      seen.push(...p.shape, ...t.shape);
      return tf.mul(tf.mean(tf.square(tf.sub(p, t))), 3) as tf.Scalar;
    });
    const obj = new PixelDecoderObjective(dec, { perceptual, perceptualWeight: 0.5, reconstruction: 'l2', reconstructionWeight: 2 });
    const f = ref64.toTensor(ref64.randomNd([2, 4, 4, 6], 51));
    const images = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 7);
    const parts = await expectNoLeaks(() => obj.loss(f, images, { noise: false }));
    expect(seen).toEqual([2, 32, 32, 3, 2, 32, 32, 3]);
    const img = dec.forward(f);
    const mse = await scalar(tf.mean(tf.square(tf.sub(tf.mul(img, 2), tf.mul(images, 2)))));
    await expectClose(parts.rec, mse, 1e-5, 'l2 on [-1, 1] images');
    await expectClose(parts.loss, 2 * mse + 0.5 * 3 * mse, 1e-5, 'weighted sum');
    expect(parts.gan).toBeNull();
    tf.dispose([f, images, img, parts.loss, parts.rec, parts.perceptual!]);
    obj.dispose();
    dec.dispose();
  });

  it('GAN terms: taming\'s adaptive weight, and each loss reaches only its own network', async () => {
    const dec = new PixelDecoder(PIX);
    await randomize(dec, 60, 0.3, { layernorm_before: 1, layernorm_after: 1, 'decoder_norm.weight': 1 });
    const obj = new PixelDecoderObjective(dec, { gan: { weight: 0.75, discriminator: { ndf: 4, nLayers: 2 } }, perceptual: (p, t) => tf.mean(tf.abs(tf.sub(p, t))) as tf.Scalar });
    const d = obj.discriminator!;
    await randomize(d, 61, 0.3);
    const f = ref64.toTensor(ref64.randomNd([2, 4, 4, 6], 62));
    const images = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 8);
    const parts = await expectNoLeaks(() => obj.loss(f, images, { step: 0, noise: false }));
    const decVars = dec.trainableVariables();
    const dVars = d.trainableVariables();
    const head = new Map([['w', dec.decoderPred.weight]]);
    const real = tf.sub(tf.mul(images, 2), 1);
    const fake = () => tf.sub(tf.mul(dec.forward(f), 2), 1);
    const nll = () => tf.add(pixelReconstructionLoss(fake(), real, 'l1'), tf.mean(tf.abs(tf.sub(fake(), real)))) as tf.Scalar;
    const adv = () => generatorAdversarialLoss(d.forward(fake()));
    // taming: ||d nll / d W_last|| / (||d gan / d W_last|| + 1e-4), clipped, x disc_weight
    const gN = computeGrads(nll, head);
    const gG = computeGrads(adv, head);
    const expected = 0.75 * Math.min(1e4, (await scalar(tf.norm(gN.grads.get('w')!))) / ((await scalar(tf.norm(gG.grads.get('w')!))) + 1e-4));
    await expectClose(parts.ganWeight!, expected, 1e-3, 'adaptive weight');
    const lambda = await scalar(parts.ganWeight!);
    // gradient routing of the combined loss
    const all = new Map([...decVars, ...[...dVars].map(([k, v]) => [`d.${k}`, v] as [string, tf.Variable])]);
    const total = computeGrads(() => obj.loss(f, images, { step: 0, noise: false }).loss, all);
    const genOnly = computeGrads(() => tf.add(nll(), tf.mul(lambda, adv())) as tf.Scalar, decVars);
    const discOnly = computeGrads(() => hingeDiscriminatorLoss(d.forward(real), d.forward(fake())), dVars);
    for (const k of ['decoder_embed.weight', 'decoder_pred.weight', 'decoder_layers.0.attn.query.weight']) {
      await expectClose(total.grads.get(k)!, genOnly.grads.get(k)!, 2e-3, `decoder grad ${k}`);
    }
    for (const k of ['main.0.weight', 'main.3.weight', 'main.8.weight']) {
      await expectClose(total.grads.get(`d.${k}`)!, discOnly.grads.get(k)!, 2e-3, `discriminator grad ${k}`);
    }
    for (const g of [gN, gG, total, genOnly, discOnly]) tf.dispose([g.loss, ...g.grads.values()]);
    tf.dispose([f, images, real, ...Object.values(parts).filter((t): t is tf.Scalar => t !== null)]);
    obj.dispose();
    dec.dispose();
  });

  it('adaptive GAN weight = w ||d nll/dW_last|| / (||d gan/dW_last|| + eps) against a float64 reference (finite differences)', async () => {
    // Tiny decoder and PatchGAN; the reference runs both in float64 (ref64fae) and takes central
    // differences of nll and gan in every entry of decoder_pred.weight (the last layer).
    const cfg: Partial<PixelDecoderConfig> = { inputDim: 6, width: 8, depth: 1, heads: 2, mlpDim: 12, gridSize: 2, imageSize: 8, layerNormEps: 1e-6, outputMean: [0.5, 0.4, 0.3], outputStd: [0.2, 0.25, 0.3] };
    const dec = new PixelDecoder(cfg);
    const sdDec = await randomize(dec, 70, 0.3, { layernorm_before: 1, layernorm_after: 1, 'decoder_norm.weight': 1 });
    const perceptual = (p: tf.Tensor, t: tf.Tensor) => tf.tidy(() => tf.mul(tf.mean(tf.square(tf.sub(p, t))), 0.5) as tf.Scalar);
    for (const [weight, eps] of [[0.75, 1e-6], [0.5, 1e-4]] as const) {
      const obj = new PixelDecoderObjective(dec, { reconstruction: 'l1', perceptual, perceptualWeight: 2, gan: { weight, adaptiveEps: eps, discriminator: { ndf: 4, nLayers: 1 } } });
      const sdD = await randomize(obj.discriminator!, 71, 0.3);
      const f = ref64.randomNd([2, 2, 2, 6], 72);
      const img = ref64.randomNd([2, 8, 8, 3], 73);
      const images01 = ref64.map(img, (v) => 0.5 + 0.4 * v);
      const [ft, it01] = [f, images01].map(ref64.toTensor);
      const parts = await expectNoLeaks(() => obj.loss(ft, it01, { step: 0, noise: false }));
      // float64: image in [-1, 1] from the reference decoder with decoder_pred.weight = w
      const { outputMean: m, outputStd: sd } = dec.config;
      const real = ref64.map(images01, (v) => 2 * v - 1);
      const fake = (w: Float64Array) => {
        const sd64 = new Map(sdDec);
        sd64.set('decoder_pred.weight', ref64.nd(sdDec.get('decoder_pred.weight')!.shape, w));
        const out = ref64fae.pixelDecoder(f, sd64, { depth: 1, heads: 2, patchSize: 4, eps: 1e-6 });
        return ref64.map(out, (v, i) => 2 * (v * sd[i % 3] + m[i % 3]) - 1);
      };
      const nll = (w: Float64Array) => {
        const x = fake(w);
        return ref64fae.reconstruction(x, real, 'l1') + 2 * 0.5 * ref64fae.reconstruction(x, real, 'l2');
      };
      const gan = (w: Float64Array) => {
        const logits = ref64fae.patchDiscriminator(fake(w), sdD, { nLayers: 1, norm: 'batch' });
        return -logits.data.reduce((a, b) => a + b, 0) / logits.data.length;
      };
      const w0 = Float64Array.from(sdDec.get('decoder_pred.weight')!.data);
      const norm = (g: Float64Array) => Math.sqrt(g.reduce((a, b) => a + b * b, 0));
      const gN = norm(ref64conv.finiteDifferenceGrad(nll, w0, 1e-6));
      const gG = norm(ref64conv.finiteDifferenceGrad(gan, w0, 1e-6));
      const expected = weight * Math.min(1e4, gN / (gG + eps));
      await expectClose(parts.ganWeight!, expected, 2e-3, `adaptive weight (w ${weight}, eps ${eps})`);
      await expectClose(parts.rec, ref64fae.reconstruction(fake(w0), real, 'l1'), 1e-4, 'rec');
      await expectClose(parts.gan!, gan(w0), 2e-3, 'generator adversarial loss');
      tf.dispose([ft, it01, ...Object.values(parts).filter((t): t is tf.Scalar => t !== null)]);
      obj.dispose();
    }
    // adaptiveGanWeight itself: the clip and eps
    const [a, b] = [tf.tensor1d([3, 4]), tf.tensor1d([0, 0])];
    await expectClose(adaptiveGanWeight(a, b), 1e4, 0, 'clipped at 1e4');
    await expectClose(adaptiveGanWeight(a, b, 1e9, 1e-6), 5e6, 1e-6, 'eps 1e-6');
    tf.dispose([a, b]);
    dec.dispose();
  });

  it('start steps: the generator GAN term from gan.start, the discriminator from gan.discStart, nll only before', async () => {
    const dec = new PixelDecoder(PIX);
    await randomize(dec, 80, 0.3, { layernorm_before: 1, layernorm_after: 1, 'decoder_norm.weight': 1 });
    const obj = new PixelDecoderObjective(dec, { gan: { start: 5, discStart: 3, discriminator: { ndf: 4, nLayers: 2 } } });
    await randomize(obj.discriminator!, 81, 0.3);
    const f = ref64.toTensor(ref64.randomNd([2, 4, 4, 6], 82));
    const images = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 9);
    const at = async (step: number) => {
      const p = obj.loss(f, images, { step, noise: false });
      const v = { loss: await scalar(p.loss), rec: await scalar(p.rec), gan: p.gan && (await scalar(p.gan)), ganWeight: p.ganWeight && (await scalar(p.ganWeight)), disc: p.disc && (await scalar(p.disc)) };
      tf.dispose(Object.values(p).filter((t): t is tf.Scalar => t !== null));
      return v;
    };
    const s2 = await at(2);
    expect([s2.gan, s2.ganWeight, s2.disc]).toEqual([null, null, null]);
    expect(s2.loss).toBe(s2.rec);
    const s3 = await at(3);
    expect([s3.gan, s3.ganWeight]).toEqual([null, null]);
    expect(s3.disc).toBeGreaterThan(0);
    expect(s3.loss).toBeCloseTo(s3.rec + s3.disc!, 5);
    const s5 = await at(5);
    expect(s5.gan).not.toBeNull();
    expect(s5.ganWeight).toBeGreaterThan(0);
    expect(s5.loss).toBeCloseTo(s5.rec + s5.ganWeight! * s5.gan! + s5.disc!, 4);
    tf.dispose([f, images]);
    obj.dispose();
    dec.dispose();
  });

  it("objective presets: 'fae-paper' is RAE's recipe with starts scaled to the run, needs a perceptual loss; the paper's decoders default to it", () => {
    const perceptual = (p: tf.Tensor, t: tf.Tensor) => tf.mean(tf.abs(tf.sub(p, t))) as tf.Scalar;
    const paper = pixelObjectivePreset('fae-paper', { totalSteps: 1_000_000, perceptual });
    expect(paper).toMatchObject({ reconstruction: 'l1', reconstructionWeight: 1, perceptualWeight: 1, gan: { weight: 0.75, adaptive: true, adaptiveEps: 1e-6, maxAdaptiveWeight: 1e4, start: 500_000, discStart: 375_000 } });
    expect(paper.perceptual).toBe(perceptual);
    expect(pixelObjectivePreset('titok-stage2', { totalSteps: 500_000, perceptual }).gan).toMatchObject({ weight: 0.01, adaptive: false, start: 20_000, discStart: 20_000 });
    expect(pixelObjectivePreset('mnist', { totalSteps: 100 })).toMatchObject({ reconstruction: 'l2', perceptualWeight: 0, gan: false });
    expect(() => pixelObjectivePreset('fae-paper', { totalSteps: 10 })).toThrow(ConfigError);
    expect(() => pixelObjectivePreset('fae-paper', { totalSteps: 10 })).toThrow(/needs a perceptual loss/);
    expect(() => pixelObjectivePreset('gan', { totalSteps: 10 })).toThrow(/known: fae-paper, titok-stage2, mnist/);
    expect(PIXEL_DECODER_PRESETS['fae-dinov2-g-vit-l'].objective).toBe('fae-paper');
    expect(Object.keys(PIXEL_OBJECTIVE_PRESETS)).toEqual(['fae-paper', 'titok-stage2', 'mnist']);
  });
});
