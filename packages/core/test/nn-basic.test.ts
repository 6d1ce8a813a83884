import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends, expectClose, expectNoLeaks, ref64 } from '@fae/testing';
import { Linear, LayerNorm, RMSNorm, Mlp, gelu, geluTanh, silu, scaledDotProductAttention, StateDictError, Module, ModuleList, encodeSafetensors, parseSafetensors } from '@fae/core';

describeBackends('nn basics', () => {
  it('Linear matches a float64 reference with a PyTorch-layout weight', async () => {
    const lin = new Linear(5, 3, { seed: 1 });
    const w = ref64.randomNd([3, 5], 11);
    const b = ref64.randomNd([3], 12);
    const x = ref64.randomNd([2, 4, 5], 13);
    await lin.loadStateDict({ weight: ref64.toTensor(w), bias: ref64.toTensor(b) });
    const xt = ref64.toTensor(x);
    const y = await expectNoLeaks(() => lin.forward(xt));
    expect(y.shape).toEqual([2, 4, 3]);
    await expectClose(y, ref64.linearTorch(x, w, b).data, 1e-5);
    tf.dispose([xt, y]);
    lin.dispose();
  });

  it('LayerNorm and RMSNorm match float64 references', async () => {
    const x = ref64.randomNd([3, 7], 2, 3);
    const w = ref64.randomNd([7], 3);
    const b = ref64.randomNd([7], 4);
    const ln = new LayerNorm(7, { eps: 1e-6 });
    await ln.loadStateDict({ weight: ref64.toTensor(w), bias: ref64.toTensor(b) });
    const rn = new RMSNorm(7, { eps: 1e-6 });
    await rn.loadStateDict({ weight: ref64.toTensor(w) });
    const xt = ref64.toTensor(x);
    await expectClose(ln.forward(xt), ref64.layerNorm(x, w, b, 1e-6).data, 1e-5);
    await expectClose(rn.forward(xt), ref64.rmsNorm(x, w, 1e-6).data, 1e-5);
    await expectClose(ln.forward(xt, { affine: false }), ref64.layerNorm(x, null, null, 1e-6).data, 1e-5);
    ln.dispose();
    rn.dispose();
  });

  it('activations match float64 definitions', async () => {
    const x = ref64.randomNd([64], 5, 4);
    const xt = ref64.toTensor(x);
    await expectClose(gelu(xt), ref64.map(x, ref64.gelu).data, 1e-5);
    await expectClose(geluTanh(xt), ref64.map(x, ref64.geluTanh).data, 1e-5);
    await expectClose(silu(xt), ref64.map(x, ref64.silu).data, 1e-5);
  });

  it('attention (plain and causal) matches a float64 reference', async () => {
    const q = ref64.randomNd([2, 3, 5, 4], 6);
    const k = ref64.randomNd([2, 3, 6, 4], 7);
    const v = ref64.randomNd([2, 3, 6, 4], 8);
    const [qt, kt, vt] = [q, k, v].map(ref64.toTensor);
    await expectClose(scaledDotProductAttention(qt, kt, vt), ref64.attention(q, k, v).data, 1e-5);
    await expectClose(scaledDotProductAttention(qt, kt, vt, { causal: true }), ref64.attention(q, k, v, { causal: true }).data, 1e-5);
  });
});

class Block extends Module {
  readonly norm = this.addModule('norm', new LayerNorm(4));
  readonly mlp = this.addModule('mlp', new Mlp(4, 8));
}
class Net extends Module {
  readonly blocks = this.addModule('blocks', new ModuleList([new Block(), new Block()]));
}

describeBackends('Module', () => {
  it('names keys like PyTorch, counts parameters, round-trips a state dict through safetensors', async () => {
    const net = new Net();
    const keys = net.namedParameters().map(([k]) => k);
    expect(keys).toEqual([
      'blocks.0.norm.weight', 'blocks.0.norm.bias', 'blocks.0.mlp.fc1.weight', 'blocks.0.mlp.fc1.bias', 'blocks.0.mlp.fc2.weight', 'blocks.0.mlp.fc2.bias',
      'blocks.1.norm.weight', 'blocks.1.norm.bias', 'blocks.1.mlp.fc1.weight', 'blocks.1.mlp.fc1.bias', 'blocks.1.mlp.fc2.weight', 'blocks.1.mlp.fc2.bias',
    ]);
    expect(net.parameterCount()).toBe(2 * (8 + 32 + 8 + 32 + 4));
    const sd = await net.stateDict();
    expect(sd.get('blocks.0.mlp.fc1.weight')!.shape).toEqual([8, 4]); // PyTorch layout
    const bytes = encodeSafetensors(sd);
    const other = new Net();
    await other.loadStateDict(parseSafetensors(bytes));
    const a = await net.blocks.at(1).mlp.fc2.weight.data();
    const b = await other.blocks.at(1).mlp.fc2.weight.data();
    expect(Array.from(b)).toEqual(Array.from(a));
    net.dispose();
    other.dispose();
  });

  it('strict loading reports every missing, unexpected and mis-shaped key at once', async () => {
    const net = new Net();
    const sd = await net.stateDict();
    sd.delete('blocks.0.norm.bias');
    sd.set('blocks.9.extra', { shape: [1], data: new Float32Array(1) });
    sd.set('blocks.1.norm.weight', { shape: [5], data: new Float32Array(5) });
    const store = parseSafetensors(encodeSafetensors(sd), 'net.safetensors');
    const err = await net.loadStateDict(store).catch((e) => e);
    expect(err).toBeInstanceOf(StateDictError);
    expect(err.problems.map((p: { kind: string; key: string }) => `${p.kind}:${p.key}`).sort()).toEqual(
      ['missing:blocks.0.norm.bias', 'shape:blocks.1.norm.weight', 'unexpected:blocks.9.extra'],
    );
    expect(err.message).toContain('net.safetensors');
    net.dispose();
  });
});
