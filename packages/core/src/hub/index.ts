// @fae/core hub: barrel (append one export line per file)
export {};
export * from './source.js';
export * from './progress.js';
export * from './cache.js';
export * from './fetch-file.js';
export * from './resolve.js';
export * from './verify.js';
