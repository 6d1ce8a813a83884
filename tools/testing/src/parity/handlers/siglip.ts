// Parity of @fae/encoders' SigLIP vision tower against transformers' SiglipVisionModel outputs
// (last_hidden_state, pooler_output from the attention-pooling head, hidden_states_N). Recognised by
// content: config.json model_type siglip_vision_model (or a full siglip model), model.safetensors,
// io.safetensors with input.pixel_values (NCHW). Shares the runner with the DINOv2 handler.
import type { FixtureFiles, ParityHandler } from '../types.js';
import { runVisionModelParity } from './dinov2.js';

export const siglipHandler: ParityHandler = {
  name: 'siglip',
  detect: (f: FixtureFiles) =>
    (f.config?.model_type === 'siglip_vision_model' || f.config?.model_type === 'siglip') &&
    f.files.includes('model.safetensors') && !!f.ioKeys?.includes('input.pixel_values'),
  run: (f: FixtureFiles) => runVisionModelParity(f.dir),
};
