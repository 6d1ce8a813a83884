// RawImage: decoded 8-bit pixels in row-major HWC order, the one image type every image function
// here takes and returns (PNG/JPEG codecs, PIL-exact resizing, cropping, grids).
import { ShapeError } from '../errors.js';

/** 8-bit pixels, rows top to bottom, channels interleaved (HWC): 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA. */
export interface RawImage {
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
  data: Uint8Array; // [height * width * channels]
}

/** Checks dimensions and buffer size; throws ShapeError naming `name`. Returns the image. */
export function checkRawImage(image: RawImage, name = 'image'): RawImage {
  const { width, height, channels, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new ShapeError(name, 'positive integer width and height', `${width}x${height}`);
  }
  if (![1, 2, 3, 4].includes(channels)) throw new ShapeError(name, '1, 2, 3 or 4 channels', String(channels));
  if (!(data instanceof Uint8Array)) throw new ShapeError(`${name}.data`, 'a Uint8Array', Object.prototype.toString.call(data));
  if (data.length !== width * height * channels) {
    throw new ShapeError(`${name}.data`, `${width * height * channels} bytes (${height}x${width}x${channels})`, `${data.length} bytes`);
  }
  return image;
}

/** A new image of the given size filled with `fill` (one value per channel, default 0). */
export function createRawImage(width: number, height: number, channels: RawImage['channels'] = 3, fill?: ArrayLike<number>): RawImage {
  const data = new Uint8Array(width * height * channels);
  if (fill) for (let i = 0; i < data.length; i++) data[i] = fill[i % channels];
  return { width, height, channels, data };
}

/**
 * Converts to RGB the way PIL's `Image.convert('RGB')` does for 8-bit modes: gray is replicated,
 * alpha is dropped (not composited). Returns the same object when it is already RGB.
 */
export function toRGB(image: RawImage): RawImage {
  checkRawImage(image);
  const { width, height, channels, data } = image;
  if (channels === 3) return image;
  const n = width * height;
  const out = new Uint8Array(n * 3);
  for (let p = 0; p < n; p++) {
    if (channels === 4) {
      out[p * 3] = data[p * 4];
      out[p * 3 + 1] = data[p * 4 + 1];
      out[p * 3 + 2] = data[p * 4 + 2];
    } else {
      const v = data[p * channels];
      out[p * 3] = v;
      out[p * 3 + 1] = v;
      out[p * 3 + 2] = v;
    }
  }
  return { width, height, channels: 3, data: out };
}

/** RGBA copy (alpha 255 where the image has none). */
export function toRGBA(image: RawImage): RawImage {
  checkRawImage(image);
  const { width, height, channels, data } = image;
  if (channels === 4) return image;
  const n = width * height;
  const out = new Uint8Array(n * 4);
  for (let p = 0; p < n; p++) {
    if (channels === 3) {
      out[p * 4] = data[p * 3];
      out[p * 4 + 1] = data[p * 3 + 1];
      out[p * 4 + 2] = data[p * 3 + 2];
      out[p * 4 + 3] = 255;
    } else {
      const v = data[p * channels];
      out[p * 4] = v;
      out[p * 4 + 1] = v;
      out[p * 4 + 2] = v;
      out[p * 4 + 3] = channels === 2 ? data[p * 2 + 1] : 255;
    }
  }
  return { width, height, channels: 4, data: out };
}

/** Crops the rectangle [top, top+height) x [left, left+width); it must lie inside the image. */
export function cropImage(image: RawImage, top: number, left: number, height: number, width: number): RawImage {
  checkRawImage(image);
  if (top < 0 || left < 0 || top + height > image.height || left + width > image.width || height < 1 || width < 1) {
    throw new ShapeError('crop', `a box inside the ${image.height}x${image.width} image`, `top ${top}, left ${left}, ${height}x${width}`);
  }
  const c = image.channels;
  const out = new Uint8Array(height * width * c);
  for (let y = 0; y < height; y++) {
    const src = ((top + y) * image.width + left) * c;
    out.set(image.data.subarray(src, src + width * c), y * width * c);
  }
  return { width, height, channels: c, data: out };
}
