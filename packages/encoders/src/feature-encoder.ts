// FeatureEncoder: the small interface FAE needs from a frozen encoder (images -> preprocessing ->
// patch features [B, h, w, D]); any encoder can implement it (see registerEncoder). 
// TransformersEncoder implements it for the Hugging Face backbones of this package.
import * as tf from '@tensorflow/tfjs-core';
import { ImageProcessor, ShapeError, type ImageProcessorOptions, type PreprocessorConfigJson, type RawImage } from '@fae/core';
import type { EncoderConfig } from './configs.js';
import type { FeatureOptions, RunOptions, ViTBackbone, VisionModelOutput } from './vit-backbone.js';

export type { FeatureNorm, FeatureOptions } from './vit-backbone.js';

/** Images as decoded RawImages, or a float tensor [B, H, W, 3] of 0..255 values. */
export type EncoderImages = RawImage | readonly RawImage[] | tf.Tensor;

export interface FeatureEncoder {
  /** Name (preset, hub id or folder) for logs. */
  readonly name: string;
  readonly patchSize: number;
  /** Feature width D. */
  readonly hiddenSize: number;
  /** images -> pixel values [B, H, W, 3] float32 as the encoder expects them. */
  preprocess(images: EncoderImages): tf.Tensor4D;
  /** pixel values [B, H, W, 3] -> patch features [B, H/p, W/p, D] (NHWC). */
  features(pixelValues: tf.Tensor, opts?: FeatureOptions): tf.Tensor4D;
  /** Frees the weights. */
  dispose(): void;
}

/** Preprocessing for a config when the checkpoint has no preprocessor_config.json (the hub defaults). */
export function defaultPreprocessorConfig(config: EncoderConfig): PreprocessorConfigJson {
  if (config.modelType === 'siglip_vision_model') {
    return {
      image_processor_type: 'SiglipImageProcessor', do_resize: true, size: { height: config.imageSize, width: config.imageSize }, resample: 2,
      do_rescale: true, rescale_factor: 1 / 255, do_normalize: true, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5], do_convert_rgb: true,
    };
  }
  return {
    image_processor_type: 'BitImageProcessor', do_resize: true, size: { shortest_edge: 256 }, resample: 3, do_center_crop: true,
    crop_size: { height: 224, width: 224 }, do_rescale: true, rescale_factor: 1 / 255, do_normalize: true,
    image_mean: [0.485, 0.456, 0.406], image_std: [0.229, 0.224, 0.225], do_convert_rgb: true,
  };
}

/** A DINOv2 / SigLIP backbone with its preprocessing, as a FeatureEncoder. */
export class TransformersEncoder implements FeatureEncoder {
  readonly processor: ImageProcessor;
  constructor(
    readonly name: string,
    readonly model: ViTBackbone,
    preprocessor: PreprocessorConfigJson | ImageProcessor = defaultPreprocessorConfig(model.config),
    processorOptions: ImageProcessorOptions = {},
  ) {
    this.processor = preprocessor instanceof ImageProcessor ? preprocessor : ImageProcessor.fromConfig(preprocessor, processorOptions);
    model.eval().freeze();
  }

  get config(): EncoderConfig {
    return this.model.config;
  }
  get patchSize(): number {
    return this.model.config.patchSize;
  }
  get hiddenSize(): number {
    return this.model.config.hiddenSize;
  }
  /** Feature width D of the patch features (= hiddenSize; the shared name across packages). */
  get featureDim(): number {
    return this.model.config.hiddenSize;
  }
  get numLayers(): number {
    return this.model.numLayers;
  }
  /** CLS + register tokens ahead of the patch tokens. */
  get numPrefixTokens(): number {
    return this.model.numPrefixTokens;
  }

  preprocess(images: EncoderImages): tf.Tensor4D {
    if (images instanceof tf.Tensor) {
      if (images.rank !== 4) throw new ShapeError('images', '[B, H, W, 3] with values 0..255', `[${images.shape}]`);
      return this.processor.preprocessTensor(images);
    }
    return this.processor.preprocess(images as RawImage | readonly RawImage[]);
  }

  features(pixelValues: tf.Tensor, opts: FeatureOptions = {}): tf.Tensor4D {
    return this.model.features(pixelValues, opts);
  }

  /** transformers-style outputs (last_hidden_state, pooler_output, hidden_states). */
  run(pixelValues: tf.Tensor, opts: RunOptions = {}): VisionModelOutput {
    return this.model.run(pixelValues, opts);
  }

  /** preprocess + features in one call. */
  encode(images: EncoderImages, opts: FeatureOptions = {}): tf.Tensor4D {
    return tf.tidy(() => this.features(this.preprocess(images), opts));
  }

  parameterCount(): number {
    return this.model.parameterCount();
  }

  dispose(): void {
    this.model.dispose();
  }
}
