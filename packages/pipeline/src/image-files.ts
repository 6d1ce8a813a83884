// PNG / JPEG files in and out of a pipeline (Node): files of any size -> the pipeline's images
// [B, S, S, 3] in [0, 1] (prepareImage: ADM / centre crop or resize, as the pipeline's preprocessing
// says), and images [B, H, W, 3] in [0, 1] -> one file each (format by extension), written atomically.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, encodeImage, readImageFile, tensorToImages, writeFileAtomic, type RawImage } from '@fae/core';
import { InputDataError } from './datasets/errors.js';
import { prepareImage, rawImagesToTensor, wouldSquash, type PipelinePreprocessing } from './preprocess.js';

export interface ReadImagesResult {
  /** [B, S, S, 3] in [0, 1]. */
  images: tf.Tensor4D;
  /** Files that were squashed (not square under a 'resize' preprocessing) or shrunk more than 4x. */
  warnings: string[];
}

/** Reads PNG / JPEG files as the pipeline's images. */
export async function readImages(paths: readonly string[], p: Pick<PipelinePreprocessing, 'imageSize' | 'crop'>): Promise<ReadImagesResult> {
  if (!paths.length) throw new ConfigError('readImages', 'no files given');
  const prepared: RawImage[] = [];
  const warnings: string[] = [];
  for (const path of paths) {
    let img: RawImage;
    try {
      img = await readImageFile(path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new InputDataError(path, code ? `cannot read (${code})` : `cannot decode as PNG or JPEG (${(e as Error).message})`, e);
    }
    if (wouldSquash(img, p)) warnings.push(`${path} is ${img.width}x${img.height}, not square: squashed to ${p.imageSize}x${p.imageSize}`);
    else if (Math.max(img.width, img.height) > 4 * p.imageSize) warnings.push(`${path} is ${img.width}x${img.height}: shrunk to ${p.imageSize}x${p.imageSize}`);
    prepared.push(prepareImage(img, p));
  }
  return { images: rawImagesToTensor(prepared), warnings };
}

/** Writes images [B, H, W, 3] in [0, 1] to `paths` (one per image; .png or .jpg/.jpeg). */
export async function writeImages(images: tf.Tensor, paths: readonly string[], opts: { quality?: number } = {}): Promise<void> {
  if (images.rank !== 4 || images.shape[0] !== paths.length) throw new ConfigError('writeImages', `expected ${paths.length} images [B, H, W, 3], got [${images.shape}]`);
  const raws = await tensorToImages(images, { range: [0, 1] });
  for (const [i, path] of paths.entries()) {
    const bytes = encodeImage(raws[i], /\.jpe?g$/i.test(path) ? 'jpeg' : 'png', opts);
    await writeFileAtomic(path, [bytes]);
  }
}
