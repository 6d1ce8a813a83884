// `import '@fae/core/backends/webgpu'`: statically imports @tensorflow/tfjs-backend-webgpu (which registers the
// 'webgpu' backend with tfjs) so that bundlers include it; `initBackend('webgpu')` then starts it.
import * as backend from '@tensorflow/tfjs-backend-webgpu';
import { provideBackendModule } from '../backend/modules.js';

provideBackendModule('webgpu', backend);

/** The backend this entry point provides. */
export const backendName = 'webgpu';
