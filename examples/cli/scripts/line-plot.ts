// A tiny dependency-free line-plot rasterizer: axes with "nice" ticks, tick labels and titles in
// @fae/core's 5x7 bitmap font, several series as 2-pixel polylines with square markers, a legend.
// Panels render to RGB RawImages (encode with @fae/core's encodePng); `sideBySide` joins panels.
import { drawText, GLYPH_HEIGHT, textWidth, type RawImage } from '@fae/core';

export type Rgb = readonly [number, number, number];

export interface Series {
  name: string;
  color: Rgb;
  /** [x, y] points, drawn in the given order. */
  points: ReadonlyArray<readonly [number, number]>;
}

export interface PlotOptions {
  width: number;
  height: number;
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Axis ranges; by default from the data, widened to whole ticks. */
  xRange?: [number, number];
  yRange?: [number, number];
  /** Legend corner (default 'top-right'). */
  legend?: 'top-right' | 'bottom-right';
  /** Text scale (default 2: 10x14-pixel glyphs). */
  textScale?: number;
}

const WHITE: Rgb = [255, 255, 255];
const BLACK: Rgb = [0, 0, 0];
const GRID: Rgb = [225, 225, 225];

/** A white RGB canvas. */
export function blankImage(width: number, height: number): RawImage {
  return { width, height, channels: 3, data: new Uint8Array(width * height * 3).fill(255) };
}

export function setPixel(img: RawImage, x: number, y: number, c: Rgb): void {
  if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
  const i = (Math.round(y) * img.width + Math.round(x)) * 3;
  img.data[i] = c[0];
  img.data[i + 1] = c[1];
  img.data[i + 2] = c[2];
}

function fillRect(img: RawImage, x0: number, y0: number, w: number, h: number, c: Rgb): void {
  for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) setPixel(img, x, y, c);
}

/** A line from (x0, y0) to (x1, y1) (Bresenham), `thickness` pixels wide (a square brush). */
export function drawLine(img: RawImage, x0: number, y0: number, x1: number, y1: number, c: Rgb, thickness = 1): void {
  let x = Math.round(x0);
  let y = Math.round(y0);
  const xe = Math.round(x1);
  const ye = Math.round(y1);
  const dx = Math.abs(xe - x);
  const dy = -Math.abs(ye - y);
  const sx = x < xe ? 1 : -1;
  const sy = y < ye ? 1 : -1;
  let err = dx + dy;
  const lo = -Math.floor((thickness - 1) / 2);
  for (;;) {
    fillRect(img, x + lo, y + lo, thickness, thickness, c);
    if (x === xe && y === ye) break;
    const e2 = 2 * err;
    if (e2 >= dy) {
      err += dy;
      x += sx;
    }
    if (e2 <= dx) {
      err += dx;
      y += sy;
    }
  }
}

/** About `count` round tick values (steps of 1, 2 or 5 x 10^k) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** A tick label: integers as such, otherwise the fewest decimals that tell the ticks apart. */
export function tickLabel(v: number, step: number): string {
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  return v.toFixed(decimals);
}

function range(values: number[], given?: [number, number]): [number, number] {
  if (given) return given;
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (lo === hi) {
    lo -= 1;
    hi += 1;
  }
  const ticks = niceTicks(lo, hi);
  const step = ticks.length > 1 ? ticks[1] - ticks[0] : 1;
  return [Math.floor(lo / step + 1e-9) * step, Math.ceil(hi / step - 1e-9) * step];
}

/** One panel: axes, grid, ticks, the series and a legend. */
export function renderLinePlot(o: PlotOptions): RawImage {
  const img = blankImage(o.width, o.height);
  const s = o.textScale ?? 2;
  const text = (t: string, x: number, y: number, c: Rgb = BLACK) => drawText(img.data, img.width, img.height, 3, t, x, y, c, s);
  const th = GLYPH_HEIGHT * s; // text height
  const [x0, x1] = range(o.series.flatMap((q) => q.points.map((p) => p[0])), o.xRange);
  const [y0, y1] = range(o.series.flatMap((q) => q.points.map((p) => p[1])), o.yRange);
  const yTicks = niceTicks(y0, y1);
  const xTicks = niceTicks(x0, x1);
  const yStep = yTicks.length > 1 ? yTicks[1] - yTicks[0] : 1;
  const xStep = xTicks.length > 1 ? xTicks[1] - xTicks[0] : 1;
  const yLabels = yTicks.map((v) => tickLabel(v, yStep));
  // plot area
  const left = Math.max(...yLabels.map((l) => textWidth(l, s))) + 4 * s + 6;
  const top = 3 * th + 4 * s;
  const right = o.width - 6 * s - textWidth(tickLabel(xTicks.at(-1)!, xStep), s) / 2;
  const bottom = o.height - 2 * th - 12 * s;
  const px = (x: number) => left + ((x - x0) / (x1 - x0)) * (right - left);
  const py = (y: number) => bottom - ((y - y0) / (y1 - y0)) * (bottom - top);
  // title and y label above the plot area, x label under the ticks
  text(o.title, Math.round((o.width - textWidth(o.title, s)) / 2), 2 * s);
  text(o.yLabel, 2 * s, th + 6 * s);
  text(o.xLabel, Math.round((left + right - textWidth(o.xLabel, s)) / 2), o.height - th - 2 * s);
  // grid, ticks and tick labels
  yTicks.forEach((v, i) => {
    const y = Math.round(py(v));
    if (v > y0 && v < y1) drawLine(img, left + 1, y, right, y, GRID);
    drawLine(img, left - 3 * s, y, left, y, BLACK);
    text(yLabels[i], left - 4 * s - textWidth(yLabels[i], s) - 2, y - Math.floor(th / 2));
  });
  for (const v of xTicks) {
    const x = Math.round(px(v));
    if (v > x0 && v < x1) drawLine(img, x, top, x, bottom - 1, GRID);
    drawLine(img, x, bottom, x, bottom + 3 * s, BLACK);
    const l = tickLabel(v, xStep);
    text(l, Math.round(x - textWidth(l, s) / 2), bottom + 5 * s);
  }
  // axes
  drawLine(img, left, top, left, bottom, BLACK);
  drawLine(img, left, bottom, right, bottom, BLACK);
  // series
  for (const q of o.series) {
    for (let i = 1; i < q.points.length; i++) drawLine(img, px(q.points[i - 1][0]), py(q.points[i - 1][1]), px(q.points[i][0]), py(q.points[i][1]), q.color, 2);
    for (const [x, y] of q.points) fillRect(img, Math.round(px(x)) - s - 1, Math.round(py(y)) - s - 1, 2 * s + 3, 2 * s + 3, q.color);
  }
  // legend: a swatch and the name per series, in a framed box
  const rowH = th + 4 * s;
  const boxW = Math.max(...o.series.map((q) => textWidth(q.name, s))) + 16 * s;
  const boxH = o.series.length * rowH + 2 * s;
  const bx = right - boxW - 4 * s;
  const by = o.legend === 'bottom-right' ? bottom - boxH - 4 * s : top + 4 * s;
  fillRect(img, bx, by, boxW, boxH, WHITE);
  drawLine(img, bx, by, bx + boxW, by, BLACK);
  drawLine(img, bx, by + boxH, bx + boxW, by + boxH, BLACK);
  drawLine(img, bx, by, bx, by + boxH, BLACK);
  drawLine(img, bx + boxW, by, bx + boxW, by + boxH, BLACK);
  o.series.forEach((q, i) => {
    const y = by + 2 * s + i * rowH + Math.floor(rowH / 2);
    drawLine(img, bx + 3 * s, y, bx + 10 * s, y, q.color, 2);
    text(q.name, bx + 13 * s, y - Math.floor(th / 2));
  });
  return img;
}

/** Panels of equal height side by side (RGB). */
export function sideBySide(panels: RawImage[]): RawImage {
  const height = Math.max(...panels.map((p) => p.height));
  const width = panels.reduce((w, p) => w + p.width, 0);
  const out = blankImage(width, height);
  let ox = 0;
  for (const p of panels) {
    for (let y = 0; y < p.height; y++) out.data.set(p.data.subarray(y * p.width * 3, (y + 1) * p.width * 3), (y * width + ox) * 3);
    ox += p.width;
  }
  return out;
}
