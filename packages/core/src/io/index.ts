// @fae/core io: barrel (append one export line per file)
export * from './store.js';
export * from './dtypes.js';
export * from './safetensors.js';
