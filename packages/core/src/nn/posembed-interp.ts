// Interpolation of learned 2-D position embeddings to another token grid, as transformers' ViTs do
// in `interpolate_pos_encoding`: the [gh*gw, D] table is viewed as a gh x gw image with D channels
// and resized with `nn.functional.interpolate(mode='bicubic', align_corners=False)`, in float32.
//  - antialias false (Dinov2Model, SigLIP): PyTorch's plain bicubic, a = -0.75, clamped border taps,
//    coordinates from the target `size` (or from `scaleFactor` where the reference passes one).
//  - antialias true (Dinov2WithRegistersModel): PIL-style separable filter with a = -0.5, widened
//    when shrinking, renormalised at the borders.
// The 2-D resize is one matmul with the Kronecker product of the two axis matrices, so it runs on
// every backend and gradients flow to the table.
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '../errors.js';
import { antialiasWeights, axisWeightsToMatrix, torchInterpMatrix } from '../image/resample-weights.js';

export interface PosEmbedInterpOptions {
  /** PyTorch's antialias flag (default false). */
  antialias?: boolean;
  /** Explicit `scale_factor` (h, w) of the reference call, if it used one instead of `size`. */
  scaleFactor?: [number, number];
}

/** Row-major [outH*outW, inH*inW] matrix mapping a flattened grid to the interpolated grid (float64). */
export function posEmbedInterpMatrix(inH: number, inW: number, outH: number, outW: number, opts: PosEmbedInterpOptions = {}): Float64Array {
  const axis = (n: number, m: number, sf?: number) =>
    opts.antialias ? axisWeightsToMatrix(antialiasWeights(n, m, 'bicubic', 0, n, 'torch')) : torchInterpMatrix(n, m, { mode: 'bicubic', scaleFactor: sf });
  const mh = axis(inH, outH, opts.scaleFactor?.[0]); // [outH, inH]
  const mw = axis(inW, outW, opts.scaleFactor?.[1]); // [outW, inW]
  const nIn = inH * inW;
  const out = new Float64Array(outH * outW * nIn);
  for (let oy = 0; oy < outH; oy++) {
    for (let ox = 0; ox < outW; ox++) {
      const row = (oy * outW + ox) * nIn;
      for (let iy = 0; iy < inH; iy++) {
        const wy = mh[oy * inH + iy];
        if (wy === 0) continue;
        for (let ix = 0; ix < inW; ix++) out[row + iy * inW + ix] = wy * mw[ox * inW + ix];
      }
    }
  }
  return out;
}

/**
 * table [gh*gw, D] (a square or given gh x gw grid, row-major) -> [outH*outW, D]: the position
 * embeddings of an outH x outW token grid. `matrix` may be passed in (from posEmbedInterpMatrix,
 * as a float32 tensor [outH*outW, gh*gw]) to avoid rebuilding it.
 */
export function interpolatePosEmbed(
  table: tf.Tensor, outH: number, outW: number,
  opts: PosEmbedInterpOptions & { gridH?: number; gridW?: number; matrix?: tf.Tensor2D } = {},
): tf.Tensor2D {
  if (table.rank !== 2) throw new ShapeError('position embedding table', '[N, D]', `[${table.shape}]`);
  const n = table.shape[0];
  const gh = opts.gridH ?? Math.round(Math.sqrt(n));
  const gw = opts.gridW ?? n / gh;
  if (gh * gw !== n) throw new ShapeError('position embedding table', `${gh}x${gw} = ${gh * gw} positions (a square grid unless gridH/gridW are given)`, `${n} positions`);
  return tf.tidy(() => {
    const m = opts.matrix ?? tf.tensor2d(Float32Array.from(posEmbedInterpMatrix(gh, gw, outH, outW, opts)), [outH * outW, n]);
    if (m.shape[0] !== outH * outW || m.shape[1] !== n) throw new ShapeError('interpolation matrix', `[${outH * outW}, ${n}]`, `[${m.shape}]`);
    return tf.matMul(m, table) as tf.Tensor2D; // [outH*outW, D]
  });
}
