// Every parity handler, in detection order. Append yours: one import line and one array entry line.
import type { ParityHandler } from '../types.js';
import { tarflowHandler } from './tarflow.js';
import { torchCheckpointHandler } from './torch-checkpoint.js';
import { lightningDiTHandler } from './lightningdit.js';
import { dinov2Handler } from './dinov2.js';
import { siglipHandler } from './siglip.js';
import { processorHandler } from './processor.js';
import { inceptionHandler } from './inception.js';
import { metricsHandler } from './metrics.js';
import { lpipsHandler } from './lpips.js';

export const HANDLERS: ParityHandler[] = [
  tarflowHandler,
  torchCheckpointHandler,
  lightningDiTHandler,
  dinov2Handler,
  siglipHandler,
  processorHandler,
  inceptionHandler,
  metricsHandler,
  lpipsHandler,
];
