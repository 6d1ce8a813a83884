// Image bombs and corrupt images (issue 21): the pixel limit is applied from the header before any pixel
// memory exists, PNG chunk CRCs are verified, a JPEG too small for the size it declares is refused.
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_IMAGE_PIXELS, ImageDecodeError, crc32, createRawImage, decodeImage, decodeJpeg, decodePng, encodeJpeg, encodePng } from '@fae/core';

const MB = 2 ** 20;

function refused(fn: () => unknown, re: RegExp): { grewBytes: number; ms: number } {
  const before = process.memoryUsage().arrayBuffers;
  const t0 = Date.now();
  let err: unknown = null;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ImageDecodeError);
  expect((err as Error).message).toMatch(re);
  return { grewBytes: process.memoryUsage().arrayBuffers - before, ms: Date.now() - t0 };
}

const small = createRawImage(16, 12, 3);
for (let i = 0; i < small.data.length; i++) small.data[i] = (i * 37) % 256;

/** A PNG whose IHDR declares width x height (CRC recomputed, so only the size is a lie). */
function pngDeclaring(width: number, height: number): Uint8Array {
  const png = encodePng(small).slice();
  const dv = new DataView(png.buffer);
  dv.setUint32(16, width);
  dv.setUint32(20, height);
  dv.setUint32(29, crc32(png.subarray(12, 29)));
  return png;
}

/** A JPEG whose frame header declares width x height. */
function jpegDeclaring(width: number, height: number): Uint8Array {
  const jpg = encodeJpeg(small, 80).slice();
  for (let p = 2; p < jpg.length;) {
    const m = jpg[p + 1];
    const len = (jpg[p + 2] << 8) | jpg[p + 3];
    if (m === 0xc0) {
      jpg[p + 5] = height >> 8; jpg[p + 6] = height & 255; jpg[p + 7] = width >> 8; jpg[p + 8] = width & 255;
      return jpg;
    }
    p += 2 + len;
  }
  throw new Error('no SOF0');
}

describe('pixel limit (default 100 MP), applied from the header', () => {
  it('a PNG declaring 20000x20000 is refused at once, allocating nothing (was +1.75 GB)', () => {
    const r = refused(() => decodeImage(pngDeclaring(20000, 20000), 'bomb.png'), /declares 20000x20000 = 400\.0 MP, more than the 100\.0 MP limit/);
    expect(r.grewBytes).toBeLessThan(16 * MB);
    expect(r.ms).toBeLessThan(1000);
    expect(DEFAULT_MAX_IMAGE_PIXELS).toBe(100_000_000);
  });
  it('a 600-byte JPEG declaring 9000x9000 is refused before decoding (was +1.35 GB), 20000x20000 by the limit', () => {
    const jpg = jpegDeclaring(9000, 9000);
    expect(jpg.length).toBeLessThan(2000);
    const r = refused(() => decodeImage(jpg, 'bomb.jpg'), /declares 9000x9000, which needs at least \d+ bytes of scan data/);
    expect(r.grewBytes).toBeLessThan(16 * MB);
    refused(() => decodeJpeg(jpegDeclaring(20000, 20000), 'big.jpg'), /400\.0 MP, more than the 100\.0 MP limit/);
  });
  it('the limit is configurable per call; images under it decode as before', () => {
    const png = encodePng(small);
    const jpg = encodeJpeg(small, 95);
    refused(() => decodePng(png, 'a.png', { maxPixels: 100 }), /more than the 0\.0 MP limit/);
    refused(() => decodeJpeg(jpg, 'a.jpg', { maxPixels: 191 }), /16x12/);
    expect(Array.from(decodePng(png, 'a.png', { maxPixels: 192 }).data)).toEqual(Array.from(small.data));
    expect(decodeImage(jpg).width).toBe(16);
  });
});

describe('PNG integrity', () => {
  it('a flipped bit in any chunk is refused by its CRC', () => {
    const png = encodePng(small);
    for (const at of [20, 40, png.length - 20]) {
      const bad = png.slice();
      bad[at] ^= 4;
      refused(() => decodePng(bad, 'flip.png'), /not a valid PNG|crc/i);
    }
  });
});
