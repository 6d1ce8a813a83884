// Options of loadEncoder (their own file: the encoder registry's factories take them too).
import type { HubOptions, ImageProcessorOptions, PreprocessorConfigJson } from '@fae/core';

export interface LoadEncoderOptions extends HubOptions {
  /** Strict key and shape checks (default true): every tensor of the backbone present, none extra. */
  strict?: boolean;
  /** Overrides the checkpoint's preprocessor_config.json (or the preset's). */
  preprocessorConfig?: PreprocessorConfigJson;
  /** Whose resize arithmetic preprocessing reproduces ('torch': transformers' fast processors, default). */
  resizeAlgorithm?: ImageProcessorOptions['algorithm'];
  /** SigLIP: interpolate position embeddings for inputs of another size (transformers' interpolate_pos_encoding). */
  interpolatePosEncoding?: boolean;
}
