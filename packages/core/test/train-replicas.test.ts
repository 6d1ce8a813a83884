// Data-parallel replicas through the Trainer (`replicas`), in one process: two Trainers that meet in an
// in-memory all-reduce stand in for two processes (@fae/pipeline's test runs real ones). Two replicas
// on the halves of 8-row batches end bit-identical to each other and to one Trainer with gradAccum 2 on
// 4-row batches (same rows, same random numbers, the same float32 sums); ReplicaRng hands each replica
// its rows of the global draws; replicaRows splits batches and refuses what does not split.
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends, ref64 } from '@fae/testing';
import {
  AdamW, ConfigError, EMA, Linear, Module, ReplicaRng, Rng, Trainer, cosineSchedule, gelu, indexBatches, replicaRows, type TrainerReplicas,
} from '@fae/core';

class TinyNet extends Module {
  readonly fc1 = this.addModule('fc1', new Linear(3, 8));
  readonly fc2 = this.addModule('fc2', new Linear(8, 2));
  constructor() {
    super();
    this.namedParameters().forEach(([, p], i) => {
      const t = ref64.toTensor(ref64.randomNd(p.variable.shape, 300 + i, 0.5));
      p.variable.assign(t);
      t.dispose();
    });
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.fc2.forward(gelu(this.fc1.forward(x)))); // [B, 2]
  }
}

const N = 16;
const X = ref64.randomNd([N, 3], 1, 1.5);
const Y = ref64.randomNd([N, 2], 2);
type Batch = { x: tf.Tensor; y: tf.Tensor };
const makeBatch = (idx: Int32Array): Batch => ({
  x: tf.tensor(Array.from(idx, (i) => Array.from(X.data.subarray(i * 3, i * 3 + 3))).flat(), [idx.length, 3]),
  y: tf.tensor(Array.from(idx, (i) => Array.from(Y.data.subarray(i * 2, i * 2 + 2))).flat(), [idx.length, 2]),
});

/** In-memory all-reduce of `size` replicas: float32 sums in rank order, / size (what the IPC parent does). */
function localGroup(size: number): TrainerReplicas[] {
  let waiting: Array<{ grads: Float32Array; loss: number; resolve: (r: { grads: Float32Array; loss: number }) => void } | undefined> = [];
  return Array.from({ length: size }, (_, rank) => ({
    rank, size,
    allReduceMean: (grads: Float32Array, loss: number) => new Promise((resolve) => {
      waiting[rank] = { grads, loss, resolve };
      if (waiting.filter(Boolean).length < size) return;
      const all = waiting as Array<NonNullable<(typeof waiting)[number]>>;
      waiting = [];
      const mean = Float32Array.from(all[0].grads);
      for (const w of all.slice(1)) for (let i = 0; i < mean.length; i++) mean[i] += w.grads[i];
      for (let i = 0; i < mean.length; i++) mean[i] /= size;
      const l = Math.fround(all.reduce((s, w) => Math.fround(s + Math.fround(w.loss)), 0) / size);
      for (const w of all) w.resolve({ grads: Float32Array.from(mean), loss: l });
    }),
  }));
}

function setup(batchSize: number, gradAccum: number, replicas?: TrainerReplicas) {
  const net = new TinyNet();
  const optimizer = new AdamW(net.trainableVariables(), { lr: 1e-2, weightDecay: 0.05 });
  const ema = new EMA(net, { decay: 0.8 });
  const trainer = new Trainer<Batch>({
    modules: net, optimizer, ema, rng: new Rng(9), replicas, gradAccum, steps: 6, clipNorm: 0.5,
    schedule: cosineSchedule({ lr: 2e-2, warmupSteps: 2, totalSteps: 6, minLr: 1e-3 }),
    lossFn: (b, r) => tf.tidy(() => {
      const noisy = tf.add(b.x, tf.mul(r.normal(b.x.shape), 0.1)); // [B, 3]: a bulk draw over the rows
      return tf.mean(tf.square(tf.sub(net.forward(noisy), b.y))) as tf.Scalar;
    }),
    data: indexBatches(N, makeBatch, { batchSize, seed: 5 }),
  });
  const weights = async () => {
    const out: number[] = [];
    for (const [, p] of net.namedParameters()) out.push(...(await p.variable.data()));
    ema.copyTo(net); // then the EMA's weights
    for (const [, p] of net.namedParameters()) out.push(...(await p.variable.data()));
    return out;
  };
  return { trainer, weights, dispose: () => [net, optimizer, ema].forEach((x) => x.dispose()) };
}

describeBackends('Trainer replicas', () => {
  it('2 replicas x 4 rows == gradAccum 2 x 4 rows bit for bit, and ~ 1 x 8 rows; tidy', async () => {
    const before = tf.memory().numTensors;
    const accum = setup(4, 2);
    const accumLosses = (await accum.trainer.run()).losses;
    const group = localGroup(2);
    const reps = group.map((g) => setup(8, 1, g));
    const runs = await Promise.all(reps.map((r) => r.trainer.run()));
    const [w0, w1, wa] = [await reps[0].weights(), await reps[1].weights(), await accum.weights()];
    expect(w0).toEqual(w1);
    expect(w0).toEqual(wa);
    expect(runs[0].losses).toEqual(accumLosses);
    const summed = setup(8, 1);
    await summed.trainer.run();
    const ws = await summed.weights();
    ws.forEach((w, i) => expect(Math.abs(w - w0[i])).toBeLessThan(1e-5));
    for (const r of [accum, summed, ...reps]) r.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('ReplicaRng: each rank gets its rows of the global bulk draws, raw draws shared; replicaRows splits batches', () => {
    const one = new Rng(3);
    const global = one.normal([6, 5]).arraySync() as number[][];
    const g2 = one.uniform([6]).arraySync() as number[];
    const scalar = one.nextDouble();
    for (const rank of [0, 1]) {
      const view = new ReplicaRng(new Rng(3), rank, 2);
      view.rows = 3;
      expect(view.normal([3, 5]).arraySync()).toEqual(global.slice(rank * 3, rank * 3 + 3));
      expect(view.uniform([3]).arraySync()).toEqual(g2.slice(rank * 3, rank * 3 + 3));
      expect(view.nextDouble()).toBe(scalar); // not a multiple of the rows: shared
    }
    const b = { x: tf.tensor2d([[1], [2], [3], [4]]), labels: Int32Array.of(5, 6, 7, 8), name: 'kept' };
    const part = replicaRows(b, 1, 2);
    expect(part.rows).toBe(2);
    expect((part.batch.x as tf.Tensor).arraySync()).toEqual([[3], [4]]);
    expect(Array.from(part.batch.labels)).toEqual([7, 8]);
    expect(part.batch.name).toBe('kept');
    expect(() => replicaRows(b, 0, 3)).toThrow(ConfigError);
    expect(() => replicaRows({ x: b.x, y: tf.zeros([3]) }, 0, 2)).toThrow(/disagree on the row count/);
    expect(() => new Trainer({ modules: new TinyNet(), optimizer: null as never, lossFn: () => tf.scalar(0), data: [] as never, steps: 1, replicas: { rank: 2, size: 2, allReduceMean: async (g, l) => ({ grads: g, loss: l }) } })).toThrow(/0 <= rank < size/);
    tf.dispose([b.x, part.batch.x as tf.Tensor]);
  });
});
