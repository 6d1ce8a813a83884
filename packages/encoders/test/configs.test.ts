import { describe, expect, it } from 'vitest';
import { describeBackends } from '@fae/testing';
import { ConfigError } from '@fae/core';
import { createBackbone, dinov2FfnHidden, findPreset, parameterCountOf, parseDinov2Config, parseEncoderConfig, parseSiglipVisionConfig, PRESETS } from '@fae/encoders';

describe('configs', () => {
  it('reads transformers config.json with the config classes defaults', () => {
    const d = parseDinov2Config({ model_type: 'dinov2' });
    expect(d).toMatchObject({ hiddenSize: 768, numHiddenLayers: 12, numAttentionHeads: 12, patchSize: 14, imageSize: 224, layerNormEps: 1e-6, hiddenAct: 'gelu', numRegisterTokens: 0, useMaskToken: true, qkvBias: true });
    expect(parseDinov2Config({ model_type: 'dinov2_with_registers' })).toMatchObject({ numRegisterTokens: 4, patchSize: 16, useMaskToken: true });
    const s = parseSiglipVisionConfig({ model_type: 'siglip_vision_model' });
    expect(s).toMatchObject({ hiddenSize: 768, intermediateSize: 3072, patchSize: 16, imageSize: 224, hiddenAct: 'gelu_pytorch_tanh', useHead: true });
    // a full SiglipModel config: the vision tower comes from vision_config
    const full = parseEncoderConfig({ model_type: 'siglip', text_config: {}, vision_config: { hidden_size: 64, num_attention_heads: 4, image_size: 64 } });
    expect(full).toMatchObject({ modelType: 'siglip_vision_model', hiddenSize: 64, imageSize: 64 });
  });

  it('rejects what it cannot build, naming the file and field', () => {
    expect(() => parseDinov2Config({ model_type: 'dinov2', hidden_size: 10, num_attention_heads: 3 }, 'x/config.json')).toThrow(/x\/config.json: hidden_size 10 is not divisible/);
    expect(() => parseDinov2Config({ model_type: 'dinov2', hidden_act: 'mish' })).toThrow(ConfigError);
    expect(() => parseSiglipVisionConfig({ model_type: 'siglip2' })).toThrow(/NaFlex/);
    expect(() => parseSiglipVisionConfig({ model_type: 'siglip' })).toThrow(/vision_config/);
    expect(() => parseDinov2Config({ model_type: 'dinov2', patch_size: 'big' })).toThrow(/patch_size must be an integer/);
  });

  it('SwiGLU hidden width follows (int(2/3 * 4d) + 7) // 8 * 8', () => {
    expect(dinov2FfnHidden({ hiddenSize: 1536, mlpRatio: 4, useSwigluFfn: true })).toBe(4096);
    expect(dinov2FfnHidden({ hiddenSize: 96, mlpRatio: 4, useSwigluFfn: true })).toBe(256);
    expect(dinov2FfnHidden({ hiddenSize: 100, mlpRatio: 4, useSwigluFfn: true })).toBe(272);
    expect(dinov2FfnHidden({ hiddenSize: 64, mlpRatio: 4, useSwigluFfn: false })).toBe(256);
  });
});

describeBackends('parameter counts', () => {
  it('parameterCountOf equals the built model for every variant', () => {
    const configs = [
      { model_type: 'dinov2', hidden_size: 32, num_attention_heads: 4, num_hidden_layers: 3, patch_size: 4, image_size: 16 },
      { model_type: 'dinov2', hidden_size: 24, num_attention_heads: 3, num_hidden_layers: 2, patch_size: 4, image_size: 12, qkv_bias: false, use_mask_token: false, mlp_ratio: 2 },
      { model_type: 'dinov2_with_registers', hidden_size: 48, num_attention_heads: 4, num_hidden_layers: 2, patch_size: 2, image_size: 8, use_swiglu_ffn: true, num_register_tokens: 3 },
      { model_type: 'siglip_vision_model', hidden_size: 32, num_attention_heads: 2, intermediate_size: 40, num_hidden_layers: 2, patch_size: 4, image_size: 16 },
      { model_type: 'siglip_vision_model', hidden_size: 32, num_attention_heads: 2, intermediate_size: 40, num_hidden_layers: 1, patch_size: 4, image_size: 8, vision_use_head: false },
    ];
    for (const json of configs) {
      const model = createBackbone(json);
      expect(parameterCountOf(parseEncoderConfig(json)), JSON.stringify(json)).toBe(model.parameterCount());
      model.dispose();
    }
  });
}, { backends: ['cpu'] });

describe('presets', () => {
  it('lists the published checkpoints with their hub ids, sizes and exact parameter counts', () => {
    expect(Object.keys(PRESETS)).toEqual(expect.arrayContaining([
      'dinov2-small', 'dinov2-base', 'dinov2-large', 'dinov2-giant',
      'dinov2-with-registers-small', 'dinov2-with-registers-base', 'dinov2-with-registers-large', 'dinov2-with-registers-giant',
      'siglip2-base-patch16-256', 'siglip2-so400m-patch16-256', 'siglip2-giant-opt-patch16-256',
    ]));
    // Exact counts of the Dinov2Model checkpoints (published, rounded: 22.1M, 86.6M, 304M, 1.14B).
    expect(PRESETS['dinov2-small'].parameters).toBe(22_056_576);
    expect(PRESETS['dinov2-base'].parameters).toBe(86_580_480);
    expect(PRESETS['dinov2-large'].parameters).toBe(304_368_640);
    expect(PRESETS['dinov2-giant'].parameters).toBe(1_136_480_768);
    // registers add 4 x D
    expect(PRESETS['dinov2-with-registers-giant'].parameters - PRESETS['dinov2-giant'].parameters).toBe(4 * 1536);
    const g = PRESETS['dinov2-giant'];
    expect([g.hubId, g.hiddenSize, g.patchSize, g.imageSize, g.grid, g.numLayers]).toEqual(['facebook/dinov2-giant', 1536, 14, 224, 16, 40]);
    const s = PRESETS['siglip2-giant-opt-patch16-256'];
    expect([s.hubId, s.hiddenSize, s.patchSize, s.imageSize, s.grid, s.numLayers]).toEqual(['google/siglip2-giant-opt-patch16-256', 1536, 16, 256, 16, 40]);
    expect(s.preprocessor.size).toEqual({ height: 256, width: 256 });
    expect(findPreset('facebook/dinov2-with-registers-base')?.name).toBe('dinov2-with-registers-base');
    expect(findPreset('nope')).toBeUndefined();
  });
});
