// `import '@fae/core/backends/wasm'`: statically imports @tensorflow/tfjs-backend-wasm (which registers the
// 'wasm' backend with tfjs) so that bundlers include it; `initBackend('wasm')` then starts it.
import * as backend from '@tensorflow/tfjs-backend-wasm';
import { provideBackendModule } from '../backend/modules.js';

provideBackendModule('wasm', backend);

/** The backend this entry point provides. */
export const backendName = 'wasm';
