// PNG and JPEG decoding/encoding in pure JavaScript (no native builds: Node and browsers alike).
// PNG through `fast-png` (exact, every bit depth and colour type), JPEG through `jpeg-js`.
//
// jpeg-js upsamples 4:2:0 chroma differently from libjpeg (which PIL, torchvision and browsers use):
// on 4:2:0 JPEGs decoded pixels can differ from PIL's by up to ~76/255 at hard colour edges, so
// preprocessing parity with Python holds exactly only for PNG (or 4:4:4 JPEG) inputs.
import { decode as fastPngDecode, encode as fastPngEncode, convertIndexedToRgb } from 'fast-png';
import jpeg from 'jpeg-js';
import { ConfigError, FaeError } from '../errors.js';
import { crc32 } from '../io/zip.js';
import { checkRawImage, toRGBA, type RawImage } from './raw-image.js';

/** An image file could not be decoded (corrupt, truncated or an unsupported format). */
export class ImageDecodeError extends FaeError {
  constructor(readonly source: string, problem: string, cause?: unknown) {
    super('IMAGE_DECODE', `${source}: ${problem}`, { cause });
  }
}

export type ImageFormat = 'png' | 'jpeg';

/** Default pixel limit of every decoder: 100 megapixels (a 10,000 x 10,000 photo; ~300 MB as RGB). */
export const DEFAULT_MAX_IMAGE_PIXELS = 100_000_000;

export interface ImageDecodeOptions {
  /**
   * Largest width x height to decode (default DEFAULT_MAX_IMAGE_PIXELS). Checked from the header before
   * any pixel memory is allocated, so a small file declaring a huge image (an image bomb) costs nothing.
   */
  maxPixels?: number;
}

function maxPixelsOf(opts: ImageDecodeOptions, source: string): number {
  const m = opts.maxPixels ?? DEFAULT_MAX_IMAGE_PIXELS;
  if (!(m > 0)) throw new ConfigError(source, `maxPixels must be > 0, got ${m}`);
  return m;
}

function checkPixels(width: number, height: number, maxPixels: number, source: string, format: string): void {
  if (width < 1 || height < 1) throw new ImageDecodeError(source, `${format} declares a ${width}x${height} image`);
  if (width * height > maxPixels) {
    throw new ImageDecodeError(source, `${format} declares ${width}x${height} = ${(width * height / 1e6).toFixed(1)} MP, more than the ${(maxPixels / 1e6).toFixed(1)} MP limit (maxPixels; an image bomb, or raise the limit)`);
  }
}

/** Width and height from a PNG's IHDR (the first chunk), or an error. */
export function pngDimensions(bytes: Uint8Array, source = 'PNG'): { width: number; height: number } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 33 || String.fromCharCode(...bytes.subarray(12, 16)) !== 'IHDR' || dv.getUint32(8) !== 13) {
    throw new ImageDecodeError(source, 'not a valid PNG (no IHDR chunk first)');
  }
  if (crc32(bytes.subarray(12, 29)) !== dv.getUint32(29)) throw new ImageDecodeError(source, 'not a valid PNG (IHDR CRC mismatch: corrupt header)');
  return { width: dv.getUint32(16), height: dv.getUint32(20) };
}

/**
 * Width, height and data-size plausibility of a JPEG from its frame header (SOF), read by walking the
 * marker segments up to the first scan. Null when no frame header comes before the first scan.
 */
export function jpegDimensions(bytes: Uint8Array, source = 'JPEG'): { width: number; height: number; minBytes: number } | null {
  let p = 2;
  while (p + 4 <= bytes.length) {
    if (bytes[p] !== 0xff) throw new ImageDecodeError(source, `not a valid JPEG (no marker at byte ${p})`);
    const m = bytes[p + 1];
    if (m === 0xff) {
      p++; // fill byte
      continue;
    }
    if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) {
      p += 2;
      continue;
    }
    if (m === 0xda || m === 0xd9) return null; // a scan (or the end) before any frame header
    const len = (bytes[p + 2] << 8) | bytes[p + 3];
    if (len < 2) throw new ImageDecodeError(source, `not a valid JPEG (segment length ${len} at byte ${p})`);
    const isSof = m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
    if (isSof) {
      if (p + 10 > bytes.length || len < 8) throw new ImageDecodeError(source, 'not a valid JPEG (truncated frame header)');
      const height = (bytes[p + 5] << 8) | bytes[p + 6];
      const width = (bytes[p + 7] << 8) | bytes[p + 8];
      const nc = bytes[p + 9];
      if (len < 8 + 3 * nc || p + 10 + 3 * nc > bytes.length) throw new ImageDecodeError(source, 'not a valid JPEG (truncated frame header)');
      let hMax = 1, vMax = 1;
      const comps: Array<[number, number]> = [];
      for (let c = 0; c < nc; c++) {
        const hv = bytes[p + 11 + 3 * c];
        const h = Math.max(1, hv >> 4), v = Math.max(1, hv & 15);
        comps.push([h, v]);
        hMax = Math.max(hMax, h);
        vMax = Math.max(vMax, v);
      }
      // Every 8x8 block of every component needs at least one bit (its DC code) in the scans.
      let blocks = 0;
      for (const [h, v] of comps) blocks += Math.ceil(Math.ceil((width * h) / hMax) / 8) * Math.ceil(Math.ceil((height * v) / vMax) / 8);
      return { width, height, minBytes: Math.ceil(blocks / 8) };
    }
    p += 2 + len;
  }
  return null;
}

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
export function decodePng(bytes: Uint8Array, source = 'PNG', opts: ImageDecodeOptions = {}): RawImage {
  const maxPixels = maxPixelsOf(opts, source);
  if (sniffImageFormat(bytes) !== 'png') throw new ImageDecodeError(source, 'not a valid PNG (wrong signature)');
  const dims = pngDimensions(bytes, source);
  checkPixels(dims.width, dims.height, maxPixels, source, 'PNG');
  let png;
  try {
    png = fastPngDecode(bytes, { checkCrc: true }); // every chunk's CRC-32 (the zlib stream's Adler-32 is checked too)
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
export function decodeJpeg(bytes: Uint8Array, source = 'JPEG', opts: ImageDecodeOptions = {}): RawImage {
  const maxPixels = maxPixelsOf(opts, source);
  if (sniffImageFormat(bytes) !== 'jpeg') throw new ImageDecodeError(source, 'not a valid JPEG (wrong signature)');
  const dims = jpegDimensions(bytes, source);
  if (dims) {
    checkPixels(dims.width || 1, dims.height || 1, maxPixels, source, 'JPEG');
    if (bytes.length < dims.minBytes) {
      throw new ImageDecodeError(source, `JPEG declares ${dims.width}x${dims.height}, which needs at least ${dims.minBytes} bytes of scan data, but the file is ${bytes.length} bytes (truncated, or an image bomb)`);
    }
  }
  try {
    const img = jpeg.decode(bytes, {
      useTArray: true, formatAsRGBA: false,
      maxResolutionInMP: maxPixels / 1e6, maxMemoryUsageInMB: Math.max(64, Math.ceil((maxPixels * 6) / 2 ** 20)),
    });
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
export function decodeImage(bytes: Uint8Array, source = 'image', opts: ImageDecodeOptions = {}): RawImage {
  const format = sniffImageFormat(bytes);
  if (format === 'png') return decodePng(bytes, source, opts);
  if (format === 'jpeg') return decodeJpeg(bytes, source, opts);
  throw new ImageDecodeError(source, 'unknown image format (expected PNG or JPEG bytes)');
}

/** Encodes as PNG or JPEG. */
export function encodeImage(image: RawImage, format: ImageFormat = 'png', opts: { quality?: number } = {}): Uint8Array {
  return format === 'png' ? encodePng(image) : encodeJpeg(image, opts.quality);
}

/** Node only: reads and decodes an image file. */
export async function readImageFile(path: string, opts: ImageDecodeOptions = {}): Promise<RawImage> {
  const { readFile } = await import('node:fs/promises');
  const bytes = await readFile(path);
  return decodeImage(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path, opts);
}

/** Node only: encodes and writes an image file; the format follows the extension (.png, .jpg/.jpeg). */
export async function writeImageFile(path: string, image: RawImage, opts: { quality?: number } = {}): Promise<void> {
  const { writeFile } = await import('node:fs/promises');
  const format: ImageFormat = /\.jpe?g$/i.test(path) ? 'jpeg' : 'png';
  await writeFile(path, encodeImage(image, format, opts));
}
