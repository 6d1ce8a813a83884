export * from './errors.js';
export * from './dataset.js';
export * from './transforms.js';
export * from './image-folder.js';
export * from './tar.js';
export * from './webdataset.js';
export * from './mnist.js';
export * from './open.js';
