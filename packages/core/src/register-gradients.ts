// tfjs-core registers its op gradients and its method-style tensor ops (`x.mean()`, `x.add(y)`) only
// as side effects of deep imports (`@tensorflow/tfjs-core/dist/register_all_gradients` and
// `.../public/chained_ops/register_all_chained_ops`; the `@tensorflow/tfjs` union package does it,
// tfjs-core alone does not), and those ESM trees cannot be loaded by Node directly. The file imported
// here is generated from both by scripts/vendor-gradients.mjs (run by `npm install`'s prepare step and
// by the core build). Training anywhere in FAE needs gradients and tfjs users write chained ops
// everywhere, so @fae/core registers both once; this is why the package declares side effects.
// @ts-ignore generated JavaScript without types
import './generated/tfjs-registrations.js';

import { registerReduceGradients } from './ops/reduce-gradients.js';

// Sum / Mean: tfjs's gradients with the ones made on the backend (ops/reduce-gradients.ts)
registerReduceGradients();
