// The latents-vs-pixels convergence plot of the README: class accuracy and digit FID of samples
// against training steps, for the LightningDiT on FAE latents (`fae train dit`) and the same DiT on
// pixels (`fae train dit-pixels`), from the curves those stages logged (logs/dit.json,
// logs/dit-pixels.json of a models folder). Writes one PNG (two panels).
//   node --import tsx scripts/plot-convergence.ts [models folder = checkpoints] [out = docs/convergence.png]
import { readFile, rename, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { encodePng } from '@fae/core';
import { renderLinePlot, sideBySide, type Series } from './line-plot.js';

interface CurveLog {
  stage: string;
  curve?: Array<{ step: number; accuracy: number; fid: number; n: number }>;
}

const models = resolve(process.argv[2] ?? 'checkpoints');
const out = resolve(process.argv[3] ?? 'docs/convergence.png');

async function curveOf(stage: string): Promise<NonNullable<CurveLog['curve']>> {
  const log = JSON.parse(await readFile(`${models}/logs/${stage}.json`, 'utf8')) as CurveLog;
  if (!log.curve?.length) throw new Error(`${models}/logs/${stage}.json has no sample-quality curve (train it with a classifier in the models folder)`);
  return log.curve;
}

const latents = await curveOf('dit');
const pixels = await curveOf('dit-pixels');
const BLUE = [31, 94, 200] as const;
const ORANGE = [230, 120, 20] as const;
const series = (pick: (p: { accuracy: number; fid: number }) => number): Series[] => [
  { name: 'DiT on FAE latents', color: BLUE, points: latents.map((p) => [p.step, pick(p)]) },
  { name: 'DiT on pixels', color: ORANGE, points: pixels.map((p) => [p.step, pick(p)]) },
];
const maxStep = Math.max(latents.at(-1)!.step, pixels.at(-1)!.step);
const n = latents[0].n;
const common = { width: 560, height: 400, xLabel: 'training steps (batch 32)', xRange: [0, maxStep] as [number, number] };
const accuracy = renderLinePlot({ ...common, title: `class accuracy (${n} samples per point)`, yLabel: 'accuracy', yRange: [0, 1], legend: 'bottom-right', series: series((p) => p.accuracy) });
const fid = renderLinePlot({ ...common, title: 'digit FID (lower is better)', yLabel: 'FID', series: series((p) => p.fid) });
const tmp = `${out}.tmp-${process.pid}`;
await writeFile(tmp, encodePng(sideBySide([accuracy, fid])));
await rename(tmp, out);
console.log(JSON.stringify({ out, latents: latents.length, pixels: pixels.length, samplesPerPoint: n }));
