// The convergence plot's rasterizer (scripts/line-plot.ts): round tick values, series drawn where
// their points map, the legend and text inside the image, panels joined side by side, a valid PNG.
import { describe, expect, it } from 'vitest';
import { decodePng, encodePng } from '@fae/core';
import { blankImage, drawLine, niceTicks, renderLinePlot, sideBySide, tickLabel } from '../scripts/line-plot.js';

const RED = [200, 0, 0] as const;
const BLUE = [0, 0, 200] as const;
const px = (img: { width: number; data: Uint8Array }, x: number, y: number) => Array.from(img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));
const count = (img: { data: Uint8Array }, c: readonly number[]) => {
  let n = 0;
  for (let i = 0; i < img.data.length; i += 3) if (img.data[i] === c[0] && img.data[i + 1] === c[1] && img.data[i + 2] === c[2]) n++;
  return n;
};

describe('line-plot rasterizer', () => {
  it('ticks are steps of 1, 2 or 5 x 10^k covering the range; labels use the decimals the step needs', () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0, 7200)).toEqual([0, 2000, 4000, 6000]);
    expect(niceTicks(13, 187)).toEqual([50, 100, 150]);
    expect(niceTicks(3, 3)).toEqual([3]);
    expect(tickLabel(0.4, 0.2)).toBe('0.4');
    expect(tickLabel(4000, 2000)).toBe('4000');
    expect(tickLabel(0.05, 0.05)).toBe('0.05');
  });

  it('a line covers both end points and nothing off its path', () => {
    const img = blankImage(20, 10);
    drawLine(img, 2, 3, 17, 8, RED);
    expect(px(img, 2, 3)).toEqual([...RED]);
    expect(px(img, 17, 8)).toEqual([...RED]);
    expect(px(img, 17, 3)).toEqual([255, 255, 255]);
    expect(count(img, RED)).toBe(16); // one pixel per column of a shallow line
  });

  it('draws each series at its points (markers), the axes, and the legend swatches', () => {
    const opts = {
      width: 300, height: 200, title: 'T', xLabel: 'steps', yLabel: 'acc', xRange: [0, 100] as [number, number], yRange: [0, 1] as [number, number],
      series: [{ name: 'a', color: RED, points: [[0, 0], [100, 1]] as [number, number][] }, { name: 'b', color: BLUE, points: [[50, 0.5]] as [number, number][] }],
    };
    const img = renderLinePlot(opts);
    expect([img.width, img.height, img.channels]).toEqual([300, 200, 3]);
    expect(count(img, RED)).toBeGreaterThan(100); // the polyline, markers and legend swatch
    expect(count(img, BLUE)).toBeGreaterThan(20); // the marker and legend swatch
    // the blue marker sits halfway between the red end markers (the data are collinear)
    const where = (c: readonly number[]) => {
      const xs: number[] = [];
      const ys: number[] = [];
      for (let y = 0; y < img.height; y++) for (let x = 0; x < img.width; x++) if (px(img, x, y).every((v, k) => v === c[k])) { xs.push(x); ys.push(y); }
      return { xs, ys };
    };
    const red = where(RED);
    const blue = where(BLUE);
    const redPlot = { x0: Math.min(...red.xs), y1: Math.max(...red.ys) };
    expect(redPlot.x0).toBeLessThan(Math.min(...blue.xs));
    const without = renderLinePlot({ ...opts, series: [opts.series[0]] });
    expect(count(without, BLUE)).toBe(0);
    const panels = sideBySide([img, without]);
    expect([panels.width, panels.height]).toEqual([600, 200]);
    expect(px(panels, 300 + 150, 100)).toEqual(px(without, 150, 100));
    const back = decodePng(encodePng(panels));
    expect([back.width, back.height]).toEqual([600, 200]);
  });
});
