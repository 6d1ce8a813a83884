// Registers this package's components with @fae/core's registry (a side effect of importing the
// package): loadComponent / saveComponent then handle them by name.
import { registerComponent } from '@fae/core';
import type { SingleAttentionEncoderConfig } from './config.js';
import { SingleAttentionEncoder } from './single-attention-encoder.js';

export const ADAPTER_CLASS = 'SingleAttentionEncoder';

registerComponent(ADAPTER_CLASS, {
  type: SingleAttentionEncoder,
  create: (config: Partial<SingleAttentionEncoderConfig>) => new SingleAttentionEncoder(config),
  configOf: (m: SingleAttentionEncoder) => m.config,
});
