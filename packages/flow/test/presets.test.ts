import { expect, it } from 'vitest';
import { describeBackends } from '@fae/testing';
import { ConfigError } from '@fae/core';
import { PRESETS, TarFlow, configFromUpstream, countParameters, resolveConfig } from '@fae/flow';

describeBackends('presets and configs', () => {
  it('countParameters equals the parameters a model really has (TARFlow and STARFlow options)', () => {
    const configs = [
      PRESETS['tarflow-tiny'].config,
      { inChannels: 3, imgSize: 8, patchSize: 4, channels: 32, headDim: 16, numBlocks: 3, layersPerBlock: [1, 2, 3], numClasses: 5, nvp: false },
      { inChannels: 2, imgSize: 4, patchSize: 1, channels: 32, headDim: 8, numBlocks: 3, layersPerBlock: [1, 1, 2], numClasses: 4, rope: true, condTopOnly: true },
    ];
    for (const c of configs) {
      const model = new TarFlow(c);
      expect(countParameters(c)).toBe(model.parameterCount());
      model.dispose();
    }
  });

  it('presets: sizes and the 1.4B STARFlow XLv2', () => {
    for (const [name, p] of Object.entries(PRESETS)) {
      expect(p.parameters, name).toBe(countParameters(p.config));
      expect(() => resolveConfig(p.config), name).not.toThrow();
    }
    const xl = PRESETS['starflow-xl-fae'];
    expect(resolveConfig(xl.config).layersPerBlock).toEqual([2, 2, 2, 2, 2, 18]);
    expect(xl.parameters / 1e9).toBeGreaterThan(1.3);
    expect(xl.parameters / 1e9).toBeLessThan(1.45);
    console.log(Object.entries(PRESETS).map(([k, p]) => `${k}: ${(p.parameters / 1e6).toFixed(2)}M`).join('\n'));
  });

  it('reads upstream constructor arguments and rejects invalid configs', () => {
    const c = configFromUpstream({ class: 'TarFlow', in_channels: 4, img_size: 8, patch_size: 2, channels: 64, num_blocks: 2, layers_per_block: 2, num_classes: 10 });
    expect(resolveConfig(c)).toMatchObject({ inChannels: 4, layersPerBlock: [2, 2], headDim: 64, nvp: true, numClasses: 10, rope: false });
    expect(() => configFromUpstream({ in_channels: 4 })).toThrow(ConfigError);
    expect(() => resolveConfig({ ...c, imgSize: 9 })).toThrow(/not a multiple of patchSize/);
    expect(() => resolveConfig({ ...c, layersPerBlock: [1, 2, 3] })).toThrow(/3 entries for 2 blocks/);
    expect(() => resolveConfig({ ...c, numClasses: 0, condTopOnly: true })).toThrow(/condTopOnly needs numClasses/);
    expect(() => resolveConfig({ ...c, channels: 60 })).toThrow(/multiple of headDim/);
  });
}, { backends: ['cpu'] });
