// @fae/diffusion: LightningDiT/SiT flow-matching generator, samplers (Euler, Heun, Euler-Maruyama),
// classifier-free guidance and training on latents. Latents are NHWC [B, h, w, c]. Importing the
// package registers LightningDiT with @fae/core's component registry.
export * from './config.js';
export * from './conditioning.js';
export * from './velocity-model.js';
export * from './lightningdit-block.js';
export * from './lightningdit.js';
export * from './presets.js';
export * from './load.js';
export * from './components.js';
export * from './flow-matching.js';
export * from './gaussian-flow.js';
export * from './samplers/types.js';
export * from './samplers/timesteps.js';
export * from './samplers/euler.js';
export * from './samplers/heun.js';
export * from './samplers/euler-maruyama.js';
export * from './samplers/guidance.js';
export * from './samplers/sample.js';
export * from './train.js';
