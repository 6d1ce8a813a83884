import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends, expectNoLeaks } from '@fae/testing';
import { ConfigError, decodePng, glyph, imageGrid, saveImageGrid, textWidth, writeImageGrid, type RawImage } from '@fae/core';

const px = (img: RawImage, x: number, y: number) => Array.from(img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));

describeBackends('image grids', () => {
  it('tiles a [B, H, W, C] tensor in [-1, 1] row by row with padding', async () => {
    // 5 images 4x3, image b filled with value -1 + b * 0.5 (levels 0, 64, 128, 191, 255)
    const t = tf.tidy(() => tf.concat([0, 1, 2, 3, 4].map((b) => tf.fill([1, 4, 3, 3], -1 + b * 0.5)), 0));
    const grid = await expectNoLeaks(() => imageGrid(t, { cols: 2, padding: 1, range: [-1, 1] }));
    expect([grid.width, grid.height, grid.channels]).toEqual([2 * 3 + 3, 3 * 4 + 4, 3]);
    const levels = [0, 64, 128, 191, 255];
    for (let b = 0; b < 5; b++) {
      const x0 = 1 + (b % 2) * 4;
      const y0 = 1 + Math.floor(b / 2) * 5;
      expect(px(grid, x0, y0), `image ${b}`).toEqual([levels[b], levels[b], levels[b]]);
      expect(px(grid, x0 + 2, y0 + 3)).toEqual([levels[b], levels[b], levels[b]]);
    }
    expect(px(grid, 0, 0)).toEqual([255, 255, 255]); // padding
    expect(px(grid, 5, 11)).toEqual([255, 255, 255]); // the empty sixth cell
    t.dispose();
  });

  it('draws labels under each cell and encodes a PNG that decodes to the same pixels', async () => {
    const img: RawImage = { width: 20, height: 6, channels: 3, data: new Uint8Array(360).fill(100) };
    const gray: RawImage = { width: 10, height: 4, channels: 1, data: new Uint8Array(40).fill(30) };
    const grid = await imageGrid([img, gray], { cols: 2, labels: ['A1', 'z'], padding: 2, labelColor: [255, 0, 0] });
    // label strip: 7 px + 2 * padding under the 6 px cell
    expect(grid.height).toBe(2 + 6 + 7 + 4 + 2);
    // 'A' at (2, 2 + 6 + 2): glyph pixels red where the font says so
    const a = glyph('A');
    for (let r = 0; r < 7; r++) for (let c = 0; c < 5; c++) expect(px(grid, 2 + c, 10 + r)[1], `A[${r},${c}]`).toBe(a[r * 5 + c] ? 0 : 255);
    // the smaller gray image is centred in its 20x6 cell
    expect(px(grid, 24 + 5, 2 + 1)).toEqual([30, 30, 30]);
    expect(px(grid, 24 + 4, 2 + 1)).toEqual([255, 255, 255]);
    expect(textWidth('A1')).toBe(11);
    const png = await saveImageGrid([img, gray], { cols: 2, labels: ['A1', 'z'], padding: 2, labelColor: [255, 0, 0] });
    expect(decodePng(png)).toEqual(grid);
    await expect(imageGrid([img], { labels: ['a', 'b'] })).rejects.toThrow(ConfigError);
  });

  it('writes the grid to a file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fae-grid-'));
    try {
      const t = tf.ones([4, 5, 5, 3]);
      await writeImageGrid(join(dir, 'g.png'), t, { range: [0, 1] });
      const back = decodePng(new Uint8Array(readFileSync(join(dir, 'g.png'))));
      expect([back.width, back.height]).toEqual([2 * 5 + 3 * 2, 2 * 5 + 3 * 2]);
      expect(px(back, 2, 2)).toEqual([255, 255, 255]);
      t.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
