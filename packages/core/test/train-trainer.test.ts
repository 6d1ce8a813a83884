// The Trainer: resume from a checkpoint continues with exactly the losses of an uninterrupted run,
// memory is stable across steps, the NaN/Inf guard stops with the step and tensor, checkpoints are
// atomic files holding PyTorch-layout weights, optimizer moments, EMA and RNG state.
import * as tf from '@tensorflow/tfjs-core';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { describeBackends, ref64 } from '@fae/testing';
import {
  AdamW, Dropout, EMA, FileCheckpointStore, Linear, MemoryCheckpointStore, Module, NonFiniteError, Rng, Trainer, cosineSchedule, decodeCheckpoint,
  gelu, indexBatches, type TrainData, type TrainProgress,
} from '@fae/core';

class TinyNet extends Module {
  readonly fc1: Linear;
  readonly drop: Dropout;
  readonly fc2: Linear;
  constructor(seed: number, rng: Rng) {
    super();
    this.fc1 = this.addModule('fc1', new Linear(3, 8));
    this.drop = this.addModule('drop', new Dropout(0.2, { rng }));
    this.fc2 = this.addModule('fc2', new Linear(8, 2));
    // Initial weights from the seed (layer seeds in nn/init.ts also advance a global counter).
    this.namedParameters().forEach(([, p], i) => {
      const t = ref64.toTensor(ref64.randomNd(p.variable.shape, seed * 100 + i, 0.5));
      p.variable.assign(t);
      t.dispose();
    });
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.fc2.forward(this.drop.forward(gelu(this.fc1.forward(x))))); // [B, 2]
  }
}

const N = 12;
const X = ref64.randomNd([N, 3], 1, 1.5);
const Y = ref64.randomNd([N, 2], 2);
type Batch = { x: tf.Tensor; y: tf.Tensor };
const makeBatch = (idx: Int32Array): Batch => ({
  x: tf.tensor(Array.from(idx, (i) => Array.from(X.data.subarray(i * 3, i * 3 + 3))).flat(), [idx.length, 3]),
  y: tf.tensor(Array.from(idx, (i) => Array.from(Y.data.subarray(i * 2, i * 2 + 2))).flat(), [idx.length, 2]),
});
const dataSource = () => indexBatches(N, makeBatch, { batchSize: 4, seed: 5 }); // 3 batches per epoch
/** The same batches as an iterator per epoch. */
const dataIterator = (): TrainData<Batch> => {
  const src = dataSource();
  return (epoch: number) => (function* () {
    for (let i = 0; i < src.batchesPerEpoch!; i++) yield src.batch(epoch, i) as Batch;
  })();
};

const STEPS = 8;
const tmpDirs: string[] = [];
afterAll(async () => {
  for (const d of tmpDirs) await rm(d, { recursive: true, force: true });
});

/** A whole training setup; `seed` changes the initial weights and RNG (a "new process"). */
function setup(seed: number, opts: { data?: TrainData<Batch>; dir?: string; store?: MemoryCheckpointStore; every?: number; onProgress?: (p: TrainProgress) => void } = {}) {
  const rng = new Rng(seed);
  const net = new TinyNet(seed, rng).train();
  const optimizer = new AdamW(net.trainableVariables(), { lr: 1e-2, weightDecay: 0.05 });
  const ema = new EMA(net, { decay: 0.8 });
  const trainer = new Trainer<Batch>({
    modules: net, optimizer, ema, rng,
    schedule: cosineSchedule({ lr: 2e-2, warmupSteps: 2, totalSteps: STEPS, minLr: 1e-3 }),
    lossFn: (b, r) => tf.tidy(() => {
      const noisy = tf.add(b.x, tf.mul(r.normal(b.x.shape), 0.1)); // uses the run's RNG
      return tf.mean(tf.square(tf.sub(net.forward(noisy), b.y))) as tf.Scalar;
    }),
    data: opts.data ?? dataSource(),
    steps: STEPS,
    gradAccum: 2,
    clipNorm: 0.5,
    checkpoint: opts.dir || opts.store ? { dir: opts.dir, store: opts.store, every: 'every' in opts ? opts.every : 3, keep: 2, extra: { run: 'test' } } : undefined,
    onProgress: opts.onProgress,
  });
  const dispose = () => {
    net.dispose();
    optimizer.dispose();
    ema.dispose();
  };
  return { net, optimizer, ema, trainer, dispose };
}

async function weights(m: Module): Promise<number[]> {
  const out: number[] = [];
  for (const [, p] of m.namedParameters()) out.push(...(await p.variable.data()));
  return out;
}

describeBackends('Trainer', () => {
  for (const kind of ['DataSource', 'iterator factory'] as const) {
    it(`resume continues with the losses of an uninterrupted run (${kind})`, async () => {
      const data = () => (kind === 'DataSource' ? dataSource() : dataIterator());
      const full = setup(1, { data: data() });
      const reference = await full.trainer.run();
      expect(reference.losses).toHaveLength(STEPS);
      expect(reference.epoch).toBe(5); // 16 micro-batches of 3 per epoch: epochs 0..5
      expect(reference.losses[STEPS - 1]).toBeLessThan(reference.losses[0]);

      const dir = await mkdtemp(join(tmpdir(), 'fae-trainer-'));
      tmpDirs.push(dir);
      const first = setup(1, { data: data(), dir });
      const part = await first.trainer.run({ until: 3 });
      expect(part.losses).toEqual(reference.losses.slice(0, 3));
      first.dispose();

      const resumed = setup(77, { data: data(), dir }); // other initial weights and RNG: all must come from the checkpoint
      expect(await resumed.trainer.resume()).toBe(3);
      const rest = await resumed.trainer.run();
      expect(rest.losses).toEqual(reference.losses.slice(3));
      expect(await weights(resumed.net)).toEqual(await weights(full.net));
      const emaA = await full.ema.exportState();
      const emaB = await resumed.ema.exportState();
      for (const [k, v] of emaA.tensors) expect(Array.from(emaB.tensors.get(k)!.data)).toEqual(Array.from(v.data));
      full.dispose();
      resumed.dispose();
    });
  }

  it('without checkpoint.every writes only when asked (saveCheckpoint)', async () => {
    const store = new MemoryCheckpointStore();
    const s = setup(3, { store, every: undefined });
    await s.trainer.run({ until: 5 });
    expect(await store.list()).toEqual([]);
    expect(await s.trainer.saveCheckpoint()).toBe('step-00000005.safetensors');
    expect(await store.list()).toEqual(['step-00000005.safetensors']);
    s.dispose();
  });

  it('keeps tf.memory().numTensors stable across steps and reports progress', async () => {
    const counts: number[] = [];
    const events: TrainProgress[] = [];
    const store = new MemoryCheckpointStore();
    const s = setup(2, { store, every: 4, onProgress: (p) => { counts.push(tf.memory().numTensors); events.push(p); } });
    const before = tf.memory().numTensors;
    await s.trainer.run();
    expect(new Set(counts.slice(1)).size).toBe(1); // the first step creates the optimizer's moments
    expect(tf.memory().numTensors).toBe(counts[STEPS - 1]);
    expect(counts[0] - before).toBe(2 * 4); // m and v of 4 parameters, nothing else
    expect(events.map((e) => e.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const sched = cosineSchedule({ lr: 2e-2, warmupSteps: 2, totalSteps: STEPS, minLr: 1e-3 });
    expect(events.map((e) => e.lr)).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map(sched));
    expect(events.map((e) => e.checkpoint)).toEqual([undefined, undefined, undefined, 'step-00000004.safetensors', undefined, undefined, undefined, 'step-00000008.safetensors']);
    for (const e of events) {
      expect(e.itPerSec).toBeGreaterThan(0);
      expect(e.gradNorm).toBeGreaterThan(0);
      expect(Number.isFinite(e.loss)).toBe(true);
    }
    s.dispose();
  });

  it('stops with NonFiniteError naming the step and the loss or the gradient, before updating', async () => {
    for (const where of ['loss', 'grad'] as const) {
      const s = setup(3);
      const w0 = await weights(s.net);
      let w2: number[] = [];
      const t = new Trainer<Batch>({
        ...s.trainer.opts,
        gradAccum: 1,
        onProgress: async (p) => {
          if (p.step === 2) w2 = await weights(s.net);
        },
        lossFn: (b, _r, ctx) => tf.tidy(() => {
          const out = s.net.forward(b.x);
          const base = tf.mean(tf.square(out));
          if (ctx.step < 2) return base as tf.Scalar;
          // Step 3: a NaN loss, or a finite loss whose gradient w.r.t. fc2.bias is infinite (sqrt at 0).
          if (where === 'loss') return tf.mul(base, NaN) as tf.Scalar;
          return tf.add(base, tf.sum(tf.sqrt(tf.mul(s.net.fc2.bias!, 0)))) as tf.Scalar;
        }),
      });
      const err = await t.run().catch((e) => e);
      expect(err).toBeInstanceOf(NonFiniteError);
      expect(err.step).toBe(3);
      expect(err.tensor).toBe(where === 'loss' ? 'loss' : 'grad:fc2.bias');
      expect(t.step).toBe(2);
      expect(w2).not.toEqual(w0); // two steps were applied ...
      expect(await weights(s.net)).toEqual(w2); // ... and the third was not
      s.dispose();
    }
  });

  it('writes atomic checkpoint files (PyTorch-layout weights, optimizer, EMA, RNG, data position) and prunes old ones', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fae-ckpt-'));
    tmpDirs.push(dir);
    const s = setup(4, { dir, every: 2 });
    await s.trainer.run();
    const files = (await readdir(dir)).sort();
    expect(files).toEqual(['step-00000006.safetensors', 'step-00000008.safetensors']); // keep: 2, no temp files left
    const bytes = await new FileCheckpointStore(dir).read('step-00000008.safetensors');
    const ck = await decodeCheckpoint(bytes!, 'step-00000008.safetensors');
    expect(ck.state).toMatchObject({ step: 8, epoch: 5, index: 1, modules: ['model'], extra: { run: 'test' } });
    expect(ck.state.rng).toEqual(s.trainer.rng.state());
    expect(ck.store.info('model.fc1.weight')!.shape).toEqual([8, 3]); // PyTorch [out, in]
    expect(ck.store.info('ema.fc1.weight')!.shape).toEqual([8, 3]);
    expect(ck.optimizer.tensors.get('exp_avg.fc1.weight')!.shape).toEqual([3, 8]);
    expect(ck.state.optimizer.steps['fc2.bias']).toBe(8);
    const w = (await ck.store.read('model.fc2.bias')) as Float32Array;
    expect(Array.from(w)).toEqual(Array.from(await s.net.fc2.bias!.data()));
    s.dispose();
  });
});
