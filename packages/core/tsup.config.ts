import { faePackage } from '../../tsup.shared';
export default faePackage({
  entry: {
    index: 'src/index.ts',
    'backends/cpu': 'src/backends/cpu.ts',
    'backends/wasm': 'src/backends/wasm.ts',
    'backends/webgpu': 'src/backends/webgpu.ts',
  },
  // tfjs-core declares the method-style ops (`x.mean()`, registered at runtime by core's index) as
  // augmentations of its Tensor, in the files that register them: referenced here, they are in scope
  // for every user of @fae/core's types (types only; nothing is loaded).
  typesBanner: "import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js';",
  // Bundlers load tfjs-core's ESM tree themselves: in the browser build the registrations import it
  // (sharing the app's copy of the op code) instead of carrying the copy vendored for Node.
  browserModules: {
    'src/generated/tfjs-registrations.js': [
      "import '@tensorflow/tfjs-core/dist/register_all_gradients.js';",
      "import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js';",
    ].join('\n'),
  },
});
