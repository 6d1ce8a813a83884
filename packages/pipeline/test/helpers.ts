// Small generated image datasets: class sub-folders of mixed PNG / JPEG images of several sizes and
// channel counts (grey, RGB, RGBA), each class a differently coloured pattern.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeJpeg, encodePng, type RawImage } from '@fae/core';

export function patternImage(cls: number, i: number, width: number, height: number, channels: 1 | 3 | 4): RawImage {
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const stripe = Math.floor(((cls === 1 ? y : x) + i * 3) / 4) % 2;
      const rgb = [cls === 0 ? 220 : 40, cls === 1 ? 200 : 60, cls === 2 ? 230 : 50].map((v) => (stripe ? v : 255 - v));
      const p = (y * width + x) * channels;
      if (channels === 1) data[p] = Math.round((rgb[0] + rgb[1] + rgb[2]) / 3);
      else {
        data.set(rgb, p);
        if (channels === 4) data[p + 3] = 255;
      }
    }
  }
  return { width, height, channels, data };
}

/** <root>/<class>/<i>.{png,jpg}: `perClass` images per class, sizes from 24x24 to 64x40, grey/RGB/RGBA. */
export function writeClassFolder(root: string, classes = ['circle', 'square', 'triangle'], perClass = 8): string[] {
  const files: string[] = [];
  const sizes: Array<[number, number]> = [[32, 32], [48, 40], [24, 24], [64, 40], [40, 56]];
  classes.forEach((name, c) => {
    mkdirSync(join(root, name), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const [w, h] = sizes[(i + c) % sizes.length];
      const channels = ([3, 1, 4] as const)[i % 3];
      const img = patternImage(c, i, w, h, channels);
      const jpeg = i % 2 === 1 && channels !== 4;
      const file = join(root, name, `${i}.${jpeg ? 'jpg' : 'png'}`);
      writeFileSync(file, jpeg ? encodeJpeg(img, 95) : encodePng(img));
      files.push(file);
    }
  });
  return files;
}
