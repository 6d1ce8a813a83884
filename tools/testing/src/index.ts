export * from './backends.js';
export * from './compare.js';
export * from './fixtures.js';
export * as ref64 from './ref64.js';
