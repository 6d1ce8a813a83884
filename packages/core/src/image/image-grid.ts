// Image grids: a batch (tensor [B, H, W, C] or RawImages) tiled into one RGB image with optional
// text labels under each cell, encoded as PNG. Used for sample sheets and reconstructions.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../errors.js';
import { GLYPH_HEIGHT, drawText } from './bitmap-font.js';
import { encodePng } from './codecs.js';
import { tensorToImages, type TensorToImageOptions } from './convert.js';
import { toRGB, type RawImage } from './raw-image.js';

export interface ImageGridOptions extends TensorToImageOptions {
  /** Columns (default ceil(sqrt(B))). */
  cols?: number;
  /** One label per image, drawn under it (5x7 font, uppercase). */
  labels?: readonly string[];
  /** Pixels between cells and around the grid (default 2). */
  padding?: number;
  /** Background RGB (default white). */
  background?: readonly [number, number, number];
  /** Label RGB (default black). */
  labelColor?: readonly [number, number, number];
  /** Integer font scale (default 1). */
  labelScale?: number;
}

/**
 * Tiles images into one RGB RawImage. Cells are as large as the largest image; smaller images are
 * centred. A tensor input is read asynchronously and not disposed.
 */
export async function imageGrid(images: tf.Tensor | readonly RawImage[], opts: ImageGridOptions = {}): Promise<RawImage> {
  const list = images instanceof tf.Tensor ? await tensorToImages(images, opts) : [...images];
  if (!list.length) throw new ConfigError('imageGrid', 'no images');
  const n = list.length;
  const cols = Math.min(n, opts.cols ?? Math.ceil(Math.sqrt(n)));
  if (!Number.isInteger(cols) || cols < 1) throw new ConfigError('imageGrid', `cols must be a positive integer, got ${opts.cols}`);
  if (opts.labels && opts.labels.length !== n) throw new ConfigError('imageGrid', `${opts.labels.length} labels for ${n} images`);
  const rows = Math.ceil(n / cols);
  const pad = opts.padding ?? 2;
  const scale = opts.labelScale ?? 1;
  const cellW = Math.max(...list.map((im) => im.width));
  const cellH = Math.max(...list.map((im) => im.height));
  const labelH = opts.labels ? GLYPH_HEIGHT * scale + 2 * pad : 0;
  const width = cols * cellW + (cols + 1) * pad;
  const height = rows * (cellH + labelH) + (rows + 1) * pad;
  const bg = opts.background ?? [255, 255, 255];
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = bg[i % 3];
  list.forEach((raw, i) => {
    const im = toRGB(raw);
    const r = Math.floor(i / cols);
    const c = i % cols;
    const x0 = pad + c * (cellW + pad) + Math.floor((cellW - im.width) / 2);
    const y0 = pad + r * (cellH + labelH + pad) + Math.floor((cellH - im.height) / 2);
    for (let y = 0; y < im.height; y++) {
      data.set(im.data.subarray(y * im.width * 3, (y + 1) * im.width * 3), ((y0 + y) * width + x0) * 3);
    }
    if (opts.labels) {
      const lx = pad + c * (cellW + pad);
      const ly = pad + r * (cellH + labelH + pad) + cellH + pad;
      drawText(data, width, height, 3, opts.labels[i], lx, ly, opts.labelColor ?? [0, 0, 0], scale, cellW);
    }
  });
  return { width, height, channels: 3, data };
}

/** The grid as PNG bytes. */
export async function saveImageGrid(images: tf.Tensor | readonly RawImage[], opts: ImageGridOptions = {}): Promise<Uint8Array> {
  return encodePng(await imageGrid(images, opts));
}

/** Node only: writes the grid as a PNG file. */
export async function writeImageGrid(path: string, images: tf.Tensor | readonly RawImage[], opts: ImageGridOptions = {}): Promise<void> {
  const { writeFile } = await import('node:fs/promises');
  await writeFile(path, await saveImageGrid(images, opts));
}
