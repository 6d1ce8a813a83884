// DINOv2 / SigLIP with random weights against float64 references written from transformers'
// definitions: interpolation paths the fixtures do not cover (registers with antialiased position
// interpolation, non-square and non-divisible inputs, SigLIP interpolate_pos_encoding), the
// feature view (layer / norm variants), gradients, and errors.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { describeBackends, expectClose, expectNoLeaks, ref64, ref64encoders } from '@fae/testing';
import { ConfigError, ShapeError, StateDictError, type Module } from '@fae/core';
import { createBackbone, Dinov2Model, SiglipVisionTransformer, type ViTBackbone } from '@fae/encoders';

type Nd = ref64.Nd;

/** Random PyTorch-layout weights for every parameter; norm weights and layer scales around 1. */
function randomStateDict(model: Module, seed: number): Map<string, Nd> {
  const sd = new Map<string, Nd>();
  let s = seed;
  for (const [key, p] of model.namedParameters()) {
    const isScale = /(norm\d?|layernorm|layer_norm\d)\.weight$|lambda1$/.test(key);
    const base = ref64.randomNd(p.torchShape, s++, isScale ? 0.2 : 0.3);
    sd.set(key, isScale ? ref64.map(base, (v) => 1 + v) : base);
  }
  return sd;
}

async function loadRandom(model: ViTBackbone, seed: number): Promise<Map<string, Nd>> {
  const sd = randomStateDict(model, seed);
  const tensors: Record<string, tf.Tensor> = {};
  for (const [k, v] of sd) tensors[k] = ref64.toTensor(v);
  await model.loadStateDict(tensors);
  tf.dispose(Object.values(tensors));
  return sd;
}

/** NCHW float64 pixels and the matching NHWC tensor. */
function pixels(b: number, h: number, w: number, seed: number): { nchw: Nd; nhwc: tf.Tensor } {
  const nchw = ref64.randomNd([b, 3, h, w], seed, 1.5);
  return { nchw, nhwc: tf.tidy(() => tf.transpose(ref64.toTensor(nchw), [0, 2, 3, 1])) };
}

const DINO_REG = { model_type: 'dinov2_with_registers', hidden_size: 32, num_attention_heads: 4, num_hidden_layers: 2, patch_size: 4, image_size: 16, num_register_tokens: 2, use_swiglu_ffn: true, mlp_ratio: 4, layer_norm_eps: 1e-6 };
const DINO_PLAIN = { model_type: 'dinov2', hidden_size: 24, num_attention_heads: 3, num_hidden_layers: 2, patch_size: 4, image_size: 12, qkv_bias: false, hidden_act: 'gelu_pytorch_tanh', use_mask_token: false, mlp_ratio: 2, layer_norm_eps: 1e-5 };
const SIGLIP = { model_type: 'siglip_vision_model', hidden_size: 32, num_attention_heads: 2, intermediate_size: 48, num_hidden_layers: 2, patch_size: 4, image_size: 16, layer_norm_eps: 1e-6 };

const refCfg = (json: Record<string, unknown>): ref64encoders.RefVitConfig => {
  const dino = String(json.model_type).startsWith('dinov2');
  return {
    kind: dino ? 'dinov2' : 'siglip',
    hidden: json.hidden_size as number,
    heads: json.num_attention_heads as number,
    layers: json.num_hidden_layers as number,
    patch: json.patch_size as number,
    grid: (json.image_size as number) / (json.patch_size as number),
    eps: json.layer_norm_eps as number,
    act: (json.hidden_act ?? (dino ? 'gelu' : 'gelu_pytorch_tanh')) === 'gelu' ? 'gelu' : 'gelu_tanh',
    registers: (json.num_register_tokens as number) ?? 0,
    swiglu: !!json.use_swiglu_ffn,
    antialiasPos: json.model_type === 'dinov2_with_registers',
    head: json.vision_use_head !== false,
  };
};

async function checkRun(json: Record<string, unknown>, size: [number, number], seed: number, setup?: (m: ViTBackbone) => void) {
  const model = createBackbone(json);
  setup?.(model);
  const sd = await loadRandom(model, seed);
  const { nchw, nhwc } = pixels(2, size[0], size[1], seed + 100);
  const out = await expectNoLeaks(() => model.run(nhwc, { outputHiddenStates: true }));
  const ref = ref64encoders.vitForward(refCfg(json), sd, nchw);
  await expectClose(out.lastHiddenState, ref.last.data, 1e-4, 'last_hidden_state');
  expect(out.lastHiddenState.shape).toEqual(ref.last.shape);
  if (ref.pooled) await expectClose(out.poolerOutput!, ref.pooled.data, 1e-4, 'pooler_output');
  else expect(out.poolerOutput).toBeNull();
  expect(out.hiddenStates!.length).toBe(ref.hidden.length);
  for (let i = 0; i < ref.hidden.length; i++) await expectClose(out.hiddenStates![i], ref.hidden[i].data, 1e-4, `hidden_states_${i}`);
  tf.dispose([nhwc, out.lastHiddenState, ...(out.poolerOutput ? [out.poolerOutput] : []), ...out.hiddenStates!]);
  model.dispose();
}

describeBackends('encoders vs float64 references', () => {
  it('DINOv2 with registers + SwiGLU: antialiased position interpolation, non-square, non-divisible input', async () => {
    await checkRun(DINO_REG, [18, 26], 1); // grid 4x6 from a 4x4 table; 2 pixel rows/cols dropped
  });

  it('DINOv2 without qkv bias or mask token, tanh GELU: square input on a larger grid (bicubic a=-0.75)', async () => {
    await checkRun(DINO_PLAIN, [20, 20], 2); // grid 5x5 from 3x3
    await checkRun(DINO_PLAIN, [12, 12], 3); // the table as is
  });

  it('SigLIP with the pooling head, at its size and with interpolate_pos_encoding', async () => {
    await checkRun(SIGLIP, [16, 16], 4);
    await checkRun(SIGLIP, [20, 12], 5, (m) => {
      (m as SiglipVisionTransformer).interpolatePosEncoding = true;
    });
    await checkRun({ ...SIGLIP, vision_use_head: false }, [16, 16], 6);
  });

  it('features: patch tokens of any layer, final norm with / without affine / none, as [B, h, w, D]', async () => {
    const model = createBackbone(DINO_REG) as Dinov2Model;
    const sd = await loadRandom(model, 7);
    const { nchw, nhwc } = pixels(2, 16, 20, 8);
    const ref = ref64encoders.vitForward(refCfg(DINO_REG), sd, nchw);
    const eps = DINO_REG.layer_norm_eps;
    const prefix = 1 + DINO_REG.num_register_tokens;
    const cases: Array<[number | undefined, 'affine' | 'no-affine' | 'none' | undefined, Nd]> = [
      [undefined, undefined, ref64encoders.patchTokens(ref.last, prefix)],
      [1, 'affine', ref64encoders.patchTokens(ref64.layerNorm(ref.hidden[1], sd.get('layernorm.weight')!, sd.get('layernorm.bias')!, eps), prefix)],
      [-2, 'no-affine', ref64encoders.patchTokens(ref64.layerNorm(ref.hidden[1], null, null, eps), prefix)],
      [0, 'none', ref64encoders.patchTokens(ref.hidden[0], prefix)],
    ];
    for (const [layer, norm, expected] of cases) {
      const f = await expectNoLeaks(() => model.features(nhwc, { layer, norm }));
      expect(f.shape).toEqual([2, 4, 5, 32]);
      await expectClose(f, expected.data, 1e-4, `layer ${layer} norm ${norm}`);
      f.dispose();
    }
    expect(() => model.features(nhwc, { layer: 3 })).toThrow(ConfigError);
    expect(() => model.features(nhwc, { layer: -4 })).toThrow(ConfigError);
    nhwc.dispose();
    model.dispose();
  });

  it('gradients of features w.r.t. pixels match float64 central differences', async () => {
    const model = createBackbone(DINO_PLAIN);
    const sd = await loadRandom(model, 9);
    const { nchw, nhwc } = pixels(1, 8, 8, 10); // grid 2x2 from a 3x3 table (interpolated)
    const cfg = refCfg(DINO_PLAIN);
    const weights = ref64.randomNd([1, 2, 2, 24], 11);
    const wt = ref64.toTensor(weights);
    const grad = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(model.features(x, { norm: 'no-affine' }), wt)))(nhwc); // NHWC
    const g = await grad.data();
    const loss = (data: Float64Array) => {
      const out = ref64encoders.vitForward(cfg, sd, ref64.nd(nchw.shape, data));
      const tokens = ref64encoders.patchTokens(ref64.layerNorm(out.hidden[2], null, null, DINO_PLAIN.layer_norm_eps), 1);
      return tokens.data.reduce((s, v, i) => s + v * weights.data[i], 0);
    };
    for (const idx of [0, 37, 101, 150, 191]) {
      const x = Float64Array.from(nchw.data);
      const h = 1e-4;
      x[idx] += h;
      const up = loss(x);
      x[idx] -= 2 * h;
      const down = loss(x);
      const fd = (up - down) / (2 * h);
      const [c, y, xx] = [Math.floor(idx / 64), Math.floor(idx / 8) % 8, idx % 8]; // NCHW index -> NHWC
      const ours = g[(y * 8 + xx) * 3 + c];
      expect(Math.abs(ours - fd), `pixel ${idx}: ${ours} vs ${fd}`).toBeLessThan(1e-3 * Math.max(1, Math.abs(fd)));
    }
    tf.dispose([nhwc, wt, grad]);
    model.dispose();
  });

  it('rejects wrong inputs with ShapeError', async () => {
    const sig = createBackbone(SIGLIP);
    const dino = createBackbone(DINO_PLAIN);
    const four = tf.zeros([1, 16, 16, 4]);
    const small = tf.zeros([1, 12, 16, 3]);
    const tiny = tf.zeros([1, 3, 3, 3]);
    expect(() => dino.forward(four)).toThrow(ShapeError);
    expect(() => sig.forward(small)).toThrow(/interpolatePosEncoding/);
    expect(() => dino.forward(tiny)).toThrow(ShapeError);
    tf.dispose([four, small, tiny]);
    sig.dispose();
    dino.dispose();
  });
});

describe('strict weight loading', () => {
  it('names every missing, unexpected or mis-shaped key', async () => {
    const model = createBackbone(DINO_REG);
    const sd = randomStateDict(model, 12);
    const tensors: Record<string, tf.Tensor> = {};
    for (const [k, v] of sd) tensors[k] = ref64.toTensor(v);
    delete tensors['embeddings.register_tokens'];
    tensors['encoder.layer.0.mlp.fc1.weight'] = tf.zeros([4, 4]);
    const err = await model.loadStateDict(tensors).catch((e) => e);
    expect(err).toBeInstanceOf(StateDictError);
    expect(err.message).toContain('missing: embeddings.register_tokens');
    expect(err.message).toContain('unexpected: encoder.layer.0.mlp.fc1.weight');
    tf.dispose(Object.values(tensors));
    model.dispose();
  });

  it('key names follow transformers', () => {
    const keys = new Set(createBackbone(SIGLIP).namedParameters().map(([k]) => k));
    for (const k of ['embeddings.patch_embedding.weight', 'embeddings.position_embedding.weight', 'encoder.layers.1.self_attn.q_proj.bias', 'encoder.layers.0.layer_norm2.weight', 'post_layernorm.bias', 'head.probe', 'head.attention.in_proj_weight', 'head.attention.out_proj.weight', 'head.layernorm.weight', 'head.mlp.fc2.bias']) {
      expect(keys.has(k), k).toBe(true);
    }
    const dkeys = new Set(createBackbone(DINO_REG).namedParameters().map(([k]) => k));
    for (const k of ['embeddings.cls_token', 'embeddings.mask_token', 'embeddings.register_tokens', 'embeddings.position_embeddings', 'embeddings.patch_embeddings.projection.weight', 'encoder.layer.1.attention.attention.query.weight', 'encoder.layer.0.attention.output.dense.bias', 'encoder.layer.0.layer_scale1.lambda1', 'encoder.layer.1.mlp.weights_in.weight', 'encoder.layer.1.mlp.weights_out.bias', 'layernorm.weight']) {
      expect(dkeys.has(k), k).toBe(true);
    }
  });
});
