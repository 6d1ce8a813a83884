// @fae/core io: barrel (append one export line per file)
export * from './store.js';
export * from './dtypes.js';
export * from './safetensors.js';
export * from './byte-source.js';
export * from './file-source.js';
export * from './safetensors-file.js';
export * from './sharded.js';
export * from './zip.js';
export * from './pickle.js';
export * from './torch-checkpoint.js';
export * from './npy.js';
export * from './torch-legacy.js';
