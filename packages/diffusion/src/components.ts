// Registers LightningDiT with @fae/core's component registry (a side effect of importing the
// package). The stored config is upstream's constructor arguments (snake_case, as
// lightningDiTConfigToJson writes them); camelCase configs and upstream's flat
// {"class": "LightningDiT", "input_size": ...} config.json load too. Weights may be model.safetensors
// or an upstream training checkpoint (`dir/ckpt.pt`: its EMA weights when present, 'module.' stripped).
import { registerComponent } from '@fae/core';
import { lightningDiTConfigToJson, type LightningDiTConfig } from './config.js';
import { LightningDiT } from './lightningdit.js';
import { lightningDiTConfigOf, lightningDiTFromStore, lightningDiTStateDictStore } from './load.js';

export const LIGHTNINGDIT_CLASS = 'LightningDiT';

registerComponent(LIGHTNINGDIT_CLASS, {
  type: LightningDiT,
  create: (config: Record<string, unknown> | Partial<LightningDiTConfig>, where) => new LightningDiT(lightningDiTConfigOf(config, where)),
  configOf: (m: LightningDiT) => {
    const { class: _cls, ...args } = lightningDiTConfigToJson(m.config);
    return args;
  },
  // Weights other than model.safetensors: an upstream .pt ({model, ema, opt}) or another safetensors file.
  load: async (opened, config) => {
    const where = `${opened.source}/${opened.weightsFile}`;
    const torch = /\.(pt|pth|bin|ckpt)$/i.test(opened.weightsFile);
    const store = torch ? lightningDiTStateDictStore(await opened.readTorch(), { source: where }) : await opened.openWeights();
    try {
      return (await lightningDiTFromStore(config, store)).model;
    } finally {
      await store.close?.();
    }
  },
});
