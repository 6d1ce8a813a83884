// `import * as seedrandom from 'seedrandom'` as tfjs's ESM build writes it expects named exports
// (alea, ...) that Node's CommonJS interop does not detect; this module provides them.
import { createRequire } from 'node:module';

const seedrandom = createRequire(import.meta.url)('seedrandom');
export default seedrandom;
export const { alea, xor128, xorwow, xorshift7, xor4096, tychei } = seedrandom;
