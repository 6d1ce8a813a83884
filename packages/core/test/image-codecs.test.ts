import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  ConfigError, decodeImage, decodeJpeg, decodePng, encodeImage, encodeJpeg, encodePng, ImageDecodeError, readImageFile,
  sniffImageFormat, writeImageFile, type RawImage,
} from '@fae/core';

// A minimal PNG writer (filter 0 on every row), written here from the PNG spec so the decoder is
// checked against files it did not produce: bit depths 1/2/4/16 and palettes with tRNS.
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}
function makePng(width: number, height: number, depth: number, colorType: number, rows: Uint8Array[], extra: Uint8Array[] = []): Uint8Array {
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr.set([depth, colorType, 0, 0, 0], 8);
  const raw = new Uint8Array(rows.reduce((n, r) => n + r.length + 1, 0));
  let p = 0;
  for (const r of rows) {
    raw[p++] = 0;
    raw.set(r, p);
    p += r.length;
  }
  const parts = [Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a), chunk('IHDR', ihdr), ...extra, chunk('IDAT', new Uint8Array(deflateSync(raw))), chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((n, x) => n + x.length, 0));
  p = 0;
  for (const x of parts) {
    out.set(x, p);
    p += x.length;
  }
  return out;
}

function smooth(w: number, h: number): RawImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = Math.round(127 + 100 * Math.sin(x / 6 + c) * Math.cos(y / 9));
  return { width: w, height: h, channels: 3, data };
}

describe('PNG', () => {
  it('round-trips 1 to 4 channels exactly', () => {
    for (const channels of [1, 2, 3, 4] as const) {
      const img: RawImage = { width: 7, height: 5, channels, data: Uint8Array.from({ length: 35 * channels }, (_, i) => (i * 29 + 3) % 256) };
      const bytes = encodePng(img);
      expect(sniffImageFormat(bytes)).toBe('png');
      expect(decodePng(bytes)).toEqual(img);
      expect(decodeImage(bytes)).toEqual(img);
    }
  });

  it('decodes 1-, 2- and 4-bit gray scaled to 0..255, like PIL', () => {
    // 1-bit, width 10: bits 1011001110 | 01..., rows padded to whole bytes
    const one = decodePng(makePng(10, 1, 1, 0, [Uint8Array.of(0b10110011, 0b10000000)]));
    expect(Array.from(one.data)).toEqual([255, 0, 255, 255, 0, 0, 255, 255, 255, 0]);
    const two = decodePng(makePng(4, 1, 2, 0, [Uint8Array.of(0b00011011)]));
    expect(Array.from(two.data)).toEqual([0, 85, 170, 255]);
    const four = decodePng(makePng(3, 1, 4, 0, [Uint8Array.of(0x0f, 0x70)]));
    expect(Array.from(four.data)).toEqual([0, 255, 119]);
  });

  it('keeps the high byte of 16-bit samples', () => {
    const row = new Uint8Array(2 * 3 * 2);
    new DataView(row.buffer).setUint16(0, 0xabcd);
    new DataView(row.buffer).setUint16(10, 0x00ff);
    const img = decodePng(makePng(2, 1, 16, 2, [row]));
    expect(img.channels).toBe(3);
    expect(Array.from(img.data)).toEqual([0xab, 0, 0, 0, 0, 0]);
  });

  it('expands palettes, with alpha from tRNS', () => {
    const plte = chunk('PLTE', Uint8Array.of(10, 20, 30, 40, 50, 60, 70, 80, 90));
    const rgb = decodePng(makePng(3, 1, 8, 3, [Uint8Array.of(2, 0, 1)], [plte]));
    expect(rgb.channels).toBe(3);
    expect(Array.from(rgb.data)).toEqual([70, 80, 90, 10, 20, 30, 40, 50, 60]);
    const rgba = decodePng(makePng(4, 1, 2, 3, [Uint8Array.of(0b10000100)], [plte, chunk('tRNS', Uint8Array.of(0, 128))]));
    expect(rgba.channels).toBe(4);
    expect(Array.from(rgba.data)).toEqual([70, 80, 90, 255, 10, 20, 30, 0, 40, 50, 60, 128, 10, 20, 30, 0]);
  });

  it('reports corrupt data as ImageDecodeError naming the source', () => {
    const bytes = encodePng(smooth(4, 4));
    expect(() => decodePng(bytes.subarray(0, 30), 'cat.png')).toThrow(ImageDecodeError);
    expect(() => decodePng(bytes.subarray(0, 30), 'cat.png')).toThrow(/cat\.png/);
    expect(() => decodeImage(Uint8Array.of(1, 2, 3, 4), 'x.bin')).toThrow(/unknown image format/);
  });
});

describe('JPEG', () => {
  it('encodes and decodes a smooth image closely (lossy)', () => {
    const img = smooth(40, 24);
    const bytes = encodeJpeg(img, 95);
    expect(sniffImageFormat(bytes)).toBe('jpeg');
    const back = decodeJpeg(bytes);
    expect([back.width, back.height, back.channels]).toEqual([40, 24, 3]);
    let err = 0;
    for (let i = 0; i < img.data.length; i++) err += Math.abs(img.data[i] - back.data[i]);
    expect(err / img.data.length).toBeLessThan(3);
    expect(decodeImage(bytes)).toEqual(back);
    expect(encodeImage(img, 'jpeg', { quality: 50 }).length).toBeLessThan(bytes.length);
  });

  it('encodes gray and RGBA input (alpha dropped) and rejects bad quality', () => {
    const gray: RawImage = { width: 8, height: 8, channels: 1, data: new Uint8Array(64).fill(200) };
    const back = decodeJpeg(encodeJpeg(gray));
    expect(Math.abs(back.data[0] - 200)).toBeLessThanOrEqual(2);
    expect(() => encodeJpeg(gray, 0)).toThrow(ConfigError);
    expect(() => decodeJpeg(Uint8Array.of(0xff, 0xd8, 0xff, 0), 'bad.jpg')).toThrow(ImageDecodeError);
  });
});

describe('image files (Node)', () => {
  it('writes and reads PNG and JPEG by extension', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fae-img-'));
    try {
      const img = smooth(9, 6);
      await writeImageFile(join(dir, 'a.png'), img);
      expect(await readImageFile(join(dir, 'a.png'))).toEqual(img);
      await writeImageFile(join(dir, 'a.jpg'), img, { quality: 90 });
      const j = await readImageFile(join(dir, 'a.jpg'));
      expect([j.width, j.height]).toEqual([9, 6]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
