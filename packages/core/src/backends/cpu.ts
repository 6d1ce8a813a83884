// `import '@fae/core/backends/cpu'`: statically imports @tensorflow/tfjs-backend-cpu (which registers the
// 'cpu' backend with tfjs) so that bundlers include it; `initBackend('cpu')` then starts it.
import * as backend from '@tensorflow/tfjs-backend-cpu';
import { provideBackendModule } from '../backend/modules.js';

provideBackendModule('cpu', backend);

/** The backend this entry point provides. */
export const backendName = 'cpu';
