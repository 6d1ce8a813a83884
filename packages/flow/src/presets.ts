// Named TarFlow / STARFlow sizes, with parameter counts computed from the shapes.
//   tarflow-tiny       the tarflow_0 fixture's shape (tests, benchmarks).
//   tarflow-mnist      upstream train_local.ipynb's MNIST model (28x28x1, patch 4, 128 wide, 4x4 layers).
//   tarflow-imagenet64 upstream README's ImageNet 64 model (patch 2, 768 wide, 8 blocks x 8 layers).
//   tarflow-afhq256    upstream README's AFHQ 256 model (patch 8, 768 wide, 8 x 8, 3 classes).
//   starflow-xl-fae    STARFlow `TarFlow_XLv2_1` (1.4B: 6 blocks [2,2,2,2,2,18], 2048 wide, head 64, RoPE)
//                      on FAE latents 16x16x32 (patch 1, 256 tokens), 1000 classes on the deep block.
//   starflow-xl-sdvae  the same flow on SD-VAE latents 32x32x4 with patch 2 (the paper's baseline).
// STARFlow conditions its deep block on text-encoder tokens (class names for ImageNet); here a class
// embedding table stands in, so counts differ from upstream's by the text projection.
import { countParameters, type TarFlowConfig } from './config.js';

export interface FlowPreset {
  description: string;
  config: TarFlowConfig;
  /** Parameters of the model (countParameters(config)). */
  parameters: number;
}

const make = (description: string, config: TarFlowConfig): FlowPreset => ({ description, config, parameters: countParameters(config) });

const STARFLOW_XL: Pick<TarFlowConfig, 'channels' | 'numBlocks' | 'layersPerBlock' | 'headDim' | 'rope' | 'condTopOnly'> = {
  channels: 2048, numBlocks: 6, layersPerBlock: [2, 2, 2, 2, 2, 18], headDim: 64, rope: true, condTopOnly: true,
};

export const PRESETS: Record<string, FlowPreset> = {
  'tarflow-tiny': make('tarflow_0 fixture shape: 8x8x4, patch 2, 64 wide, 2 blocks x 2 layers, 10 classes',
    { inChannels: 4, imgSize: 8, patchSize: 2, channels: 64, numBlocks: 2, layersPerBlock: 2, numClasses: 10 }),
  'tarflow-mnist': make('upstream MNIST notebook: 28x28x1, patch 4, 128 wide, 4 blocks x 4 layers, 10 classes',
    { inChannels: 1, imgSize: 28, patchSize: 4, channels: 128, numBlocks: 4, layersPerBlock: 4, numClasses: 10 }),
  'tarflow-imagenet64': make('upstream ImageNet 64 (unconditional): patch 2, 768 wide, 8 blocks x 8 layers',
    { inChannels: 3, imgSize: 64, patchSize: 2, channels: 768, numBlocks: 8, layersPerBlock: 8 }),
  'tarflow-afhq256': make('upstream AFHQ 256: patch 8, 768 wide, 8 blocks x 8 layers, 3 classes',
    { inChannels: 3, imgSize: 256, patchSize: 8, channels: 768, numBlocks: 8, layersPerBlock: 8, numClasses: 3 }),
  'starflow-xl-fae': make('STARFlow XLv2 (1.4B) on FAE latents 16x16x32, patch 1, deep-shallow [2,2,2,2,2,18], RoPE, 1000 classes',
    { inChannels: 32, imgSize: 16, patchSize: 1, numClasses: 1000, ...STARFLOW_XL }),
  'starflow-xl-sdvae': make('STARFlow XLv2 (1.4B) on SD-VAE latents 32x32x4, patch 2 (the paper baseline), 1000 classes',
    { inChannels: 4, imgSize: 32, patchSize: 2, numClasses: 1000, ...STARFLOW_XL }),
};
