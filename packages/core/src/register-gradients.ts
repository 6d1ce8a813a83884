// tfjs-core registers its op gradients only as a side effect of importing
// `@tensorflow/tfjs-core/dist/register_all_gradients` (the `@tensorflow/tfjs` union package does it;
// tfjs-core alone does not), and that ESM tree cannot be loaded by Node directly. The file imported
// here is generated from it by scripts/vendor-gradients.mjs (run by `npm install`'s prepare step and
// by the core build). Training anywhere in FAE needs gradients, so @fae/core registers them once;
// this is why the package declares side effects.
// @ts-ignore generated JavaScript without types
import './generated/tfjs-gradients.js';
