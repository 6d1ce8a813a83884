// PNG and JPEG decoding/encoding in pure JavaScript (no native builds: Node and browsers alike).
// PNG through `fast-png` (exact, every bit depth and colour type), JPEG through `jpeg-js`.
//
// jpeg-js upsamples 4:2:0 chroma differently from libjpeg (which PIL, torchvision and browsers use):
// on 4:2:0 JPEGs decoded pixels can differ from PIL's by up to ~76/255 at hard colour edges, so
// preprocessing parity with Python holds exactly only for PNG (or 4:4:4 JPEG) inputs.
import { decode as fastPngDecode, encode as fastPngEncode, convertIndexedToRgb } from 'fast-png';
import jpeg from 'jpeg-js';
import { ConfigError, FaeError } from '../errors.js';
import { checkRawImage, toRGBA, type RawImage } from './raw-image.js';

/** An image file could not be decoded (corrupt, truncated or an unsupported format). */
export class ImageDecodeError extends FaeError {
  constructor(readonly source: string, problem: string, cause?: unknown) {
    super('IMAGE_DECODE', `${source}: ${problem}`, { cause });
  }
}

export type ImageFormat = 'png' | 'jpeg';

/** The format of encoded bytes by their signature, or null. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return null;
}

/**
 * Decodes a PNG into 8-bit pixels, keeping its channels (gray, gray+alpha, RGB, RGBA). Palette
 * images are expanded to RGB (RGBA when the palette has transparency); 1/2/4-bit gray is scaled to
 * 0..255 like PIL; 16-bit samples keep their high byte.
 */
export function decodePng(bytes: Uint8Array, source = 'PNG'): RawImage {
  let png;
  try {
    png = fastPngDecode(bytes);
  } catch (e) {
    throw new ImageDecodeError(source, `not a valid PNG (${(e as Error).message})`, e);
  }
  const { width, height, depth } = png;
  if (png.palette) {
    const rgb = convertIndexedToRgb(png);
    const channels = png.palette[0].length as 3 | 4;
    return { width, height, channels, data: rgb };
  }
  const channels = png.channels as 1 | 2 | 3 | 4;
  const n = width * height * channels;
  const out = new Uint8Array(n);
  if (depth === 8) {
    out.set(png.data as Uint8Array);
  } else if (depth === 16) {
    const d = png.data as Uint16Array;
    for (let i = 0; i < n; i++) out[i] = d[i] >> 8;
  } else {
    // 1/2/4-bit gray: rows are packed MSB first and padded to whole bytes.
    const d = png.data as Uint8Array;
    const rowBytes = Math.ceil((width * channels * depth) / 8);
    const maxV = (1 << depth) - 1;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width * channels; x++) {
        const bit = x * depth;
        const byte = d[y * rowBytes + (bit >> 3)];
        const v = (byte >> (8 - depth - (bit & 7))) & maxV;
        out[y * width * channels + x] = Math.round((v * 255) / maxV);
      }
    }
  }
  return { width, height, channels, data: out };
}

/** Encodes 8-bit pixels (1-4 channels) as a PNG. */
export function encodePng(image: RawImage): Uint8Array {
  checkRawImage(image);
  return fastPngEncode({ width: image.width, height: image.height, data: image.data, depth: 8, channels: image.channels });
}

/** Decodes a baseline or progressive JPEG into RGB (gray and CMYK JPEGs are converted to RGB). See the note on chroma upsampling above. */
export function decodeJpeg(bytes: Uint8Array, source = 'JPEG'): RawImage {
  try {
    const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false });
    return { width: img.width, height: img.height, channels: 3, data: new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.byteLength) };
  } catch (e) {
    throw new ImageDecodeError(source, `not a valid JPEG (${(e as Error).message})`, e);
  }
}

/** Encodes as a baseline JPEG at `quality` 1..100 (default 90). Alpha is dropped. */
export function encodeJpeg(image: RawImage, quality = 90): Uint8Array {
  if (!(quality >= 1 && quality <= 100)) throw new ConfigError('encodeJpeg', `quality must be in 1..100, got ${quality}`);
  const rgba = toRGBA(image);
  const out = jpeg.encode({ width: rgba.width, height: rgba.height, data: rgba.data }, quality);
  return new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength);
}

/** Decodes PNG or JPEG bytes, chosen by signature. */
export function decodeImage(bytes: Uint8Array, source = 'image'): RawImage {
  const format = sniffImageFormat(bytes);
  if (format === 'png') return decodePng(bytes, source);
  if (format === 'jpeg') return decodeJpeg(bytes, source);
  throw new ImageDecodeError(source, 'unknown image format (expected PNG or JPEG bytes)');
}

/** Encodes as PNG or JPEG. */
export function encodeImage(image: RawImage, format: ImageFormat = 'png', opts: { quality?: number } = {}): Uint8Array {
  return format === 'png' ? encodePng(image) : encodeJpeg(image, opts.quality);
}

/** Node only: reads and decodes an image file. */
export async function readImageFile(path: string): Promise<RawImage> {
  const { readFile } = await import('node:fs/promises');
  const bytes = await readFile(path);
  return decodeImage(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
}

/** Node only: encodes and writes an image file; the format follows the extension (.png, .jpg/.jpeg). */
export async function writeImageFile(path: string, image: RawImage, opts: { quality?: number } = {}): Promise<void> {
  const { writeFile } = await import('node:fs/promises');
  const format: ImageFormat = /\.jpe?g$/i.test(path) ? 'jpeg' : 'png';
  await writeFile(path, encodeImage(image, format, opts));
}
