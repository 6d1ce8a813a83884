// Every component folder the project ships (any tracked folder holding config.json + model.safetensors)
// opens with @fae/core's loadComponent, strictly, as the class its config.json names; and the
// example's own models (digit classifier, digit encoder) round-trip through saveComponent.
import * as tf from '@tensorflow/tfjs-core';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { REPO_ROOT, describeBackends, expectClose, ref64 } from '@fae/testing';
import { componentNameOf, loadComponent, readComponentConfig, saveComponent, type Module } from '@fae/core';
import { loadSingleAttentionEncoder } from '@fae/adapter';
import { loadPixelDecoder } from '@fae/decoders';
import { loadLightningDiT } from '@fae/diffusion';
import '@fae/encoders';
import { loadTarFlow } from '@fae/flow';
import '../src/models/components.js';
import { DigitClassifier, MLP_CLASSIFIER_CONFIG } from '../src/models/digit-classifier.js';
import { buildDigitEncoder, encodeDigits } from '../src/models/digit-encoder.js';
import { SHIPPED_CHECKPOINTS } from '../src/checkpoints.js';

/** Tracked folders with config.json + model.safetensors (git ls-files; the shipped folders when git is absent). */
function shippedComponentFolders(): string[] {
  let files: string[];
  try {
    files = execFileSync('git', ['ls-files', '*config.json'], { cwd: REPO_ROOT, encoding: 'utf8' }).split('\n').filter(Boolean).map((f) => join(REPO_ROOT, f));
  } catch {
    files = ['adapter', 'classifier', 'dit', 'dit-pixels', 'encoder', 'feature-decoder', 'pixel-decoder', 'tarflow'].map((c) => join(SHIPPED_CHECKPOINTS, c, 'config.json'));
  }
  return files.map(dirname).filter((d) => existsSync(join(d, 'model.safetensors')));
}

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describeBackends('shipped components', () => {
  it('loadComponent opens every component folder the project ships', async () => {
    const folders = shippedComponentFolders();
    expect(folders.length).toBeGreaterThanOrEqual(8);
    const before = tf.memory().numTensors;
    for (const dir of folders) {
      const desc = await readComponentConfig(dir);
      expect(desc.upstream, `${dir}: written in the component format`).toBe(false);
      const module = await loadComponent<Module>(dir, { expectClass: desc.name });
      expect(componentNameOf(module), dir).toBe(desc.name);
      expect(module.parameterCount(), dir).toBeGreaterThan(0);
      module.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it("the packages' own loaders open the shipped folders (the failures issue 17 reported)", async () => {
    const adapter = await loadSingleAttentionEncoder(join(SHIPPED_CHECKPOINTS, 'adapter'));
    expect(adapter.config.inputDim).toBe(64);
    const dit = await loadLightningDiT(join(SHIPPED_CHECKPOINTS, 'dit'));
    expect(dit.latentShape).toEqual([7, 7, 8]);
    const flow = await loadTarFlow(join(SHIPPED_CHECKPOINTS, 'tarflow'));
    expect(flow.latentShape).toEqual([7, 7, 8]);
    const pixel = await loadPixelDecoder(join(SHIPPED_CHECKPOINTS, 'pixel-decoder'));
    expect(pixel.config.imageSize).toBe(28);
    [adapter, dit, flow, pixel].forEach((m) => m.dispose());
  });

  it('the digit classifier and the digit encoder round-trip with identical outputs', async () => {
    const root = await mkdtemp(join(tmpdir(), 'fae-cli-component-'));
    dirs.push(root);
    const clf = new DigitClassifier(undefined, 3);
    await saveComponent(join(root, 'classifier'), clf);
    expect(JSON.parse(await readFile(join(root, 'classifier', 'config.json'), 'utf8')).class).toBe('DigitClassifier');
    const clf2 = await loadComponent<DigitClassifier>(join(root, 'classifier'), { expectClass: 'DigitClassifier' });
    const grey = ref64.toTensor(ref64.randomNd([2, 28, 28, 1], 4));
    const [a, b] = [clf.forward(grey), clf2.forward(grey)];
    await expectClose(b.logits, a.logits, 0);
    await expectClose(b.features, a.features, 0);

    const enc = buildDigitEncoder();
    await saveComponent(join(root, 'encoder'), enc, { metadata: { pretraining: 'none (test)' } });
    const enc2 = await loadComponent(join(root, 'encoder'), { expectClass: 'Dinov2Model' });
    const images = ref64.toTensor(ref64.randomNd([2, 28, 28, 3], 5));
    const [fa, fb] = [encodeDigits(enc, images), encodeDigits(enc2 as typeof enc, images)];
    await expectClose(fb, fa, 0);
    tf.dispose([grey, a.logits, a.features, b.logits, b.features, images, fa, fb]);
    [clf, clf2, enc, enc2].forEach((m) => m.dispose());
  });

  it('the classifier is a CNN by default; the first judge (an MLP, no arch in its config) still builds; bad configs are refused', () => {
    const cnn = new DigitClassifier(undefined, 1);
    expect(cnn.arch).toBe('cnn');
    expect(cnn.conv0!.weight.shape).toEqual([3, 3, 1, 16]);
    const { arch: _arch, ...old } = MLP_CLASSIFIER_CONFIG;
    const mlp = new DigitClassifier(old, 1);
    expect(mlp.arch).toBe('mlp');
    const grey = tf.zeros([3, 28, 28, 1]);
    for (const m of [cnn, mlp]) {
      const before = tf.memory().numTensors;
      const out = m.forward(grey);
      expect(out.features.shape).toEqual([3, 128]);
      expect(out.logits.shape).toEqual([3, 10]);
      tf.dispose([out.features, out.logits]);
      expect(tf.memory().numTensors).toBe(before);
    }
    expect(() => cnn.forward(tf.zeros([1, 28, 28, 3]))).toThrow(/\[B, 28, 28, 1\]/);
    expect(() => new DigitClassifier({ ...MLP_CLASSIFIER_CONFIG, arch: 'cnn' })).toThrow(/conv_channels/);
    expect(() => new DigitClassifier({ ...MLP_CLASSIFIER_CONFIG, arch: 'rnn' as 'cnn' })).toThrow(/arch must be 'mlp' or 'cnn'/);
    grey.dispose();
    [cnn, mlp].forEach((m) => m.dispose());
  });
}, { backends: ['cpu'] });
