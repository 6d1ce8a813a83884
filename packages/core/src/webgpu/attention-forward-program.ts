// Fused attention forward for tfjs's WebGPU backend (flash-attention style, float32).
//
// A workgroup takes R query rows of one (batch, head); S invocations per row each own a 16-wide
// slice of the head (attention-layout.ts). Per tile of TILE keys staged in workgroup memory:
//   1. every invocation writes its slice's partial q.k for each key of the tile,
//   2. every invocation sums the S partials of its row (the full scores of the tile), updates the
//      row's running max m and sum l (online softmax; all S invocations of a row compute the same
//      values) and accumulates p * v into its slice of o.
// No [T, T] score matrix is ever written; the output is written once.
//
// Layout: Q [BH, Tq, D], K [BH, Tk, D], V [BH, Tk, D] bound as vec4 arrays (D % 4 == 0); output: a
// flat buffer holding O [BH, Tq, D] and, when the output is long enough, the log-sum-exp rows
// LSE [BH, Tq] after it (in units of scale * q.k), which the backward kernels read. Causal: query i
// sees keys j <= i + (Tk - Tq). The skeleton shared with the backward kernels is in attention-wgsl.ts.
import { attentionLayout } from './attention-layout.js';
import { attentionHelpers, loadSlice, ownedRows, queryBlockKeyRange, rowBlockProgram, rowSum, tileMemory, walkKeyTiles } from './attention-wgsl.js';
import { rep } from './wgsl-util.js';

/** Q [BH,Tq,D], K [BH,Tk,D], V [BH,Tk,D] -> flat [BH*Tq*D (+ BH*Tq when writeLse)]. */
export function attentionForwardProgram(bh: number, tq: number, d: number, writeLse: boolean) {
  const L = attentionLayout(d, 1);
  const D4 = L.d4;
  const userCode = `
    ${tileMemory(L, ['kT', 'vT'], ['part'])}
    var<workgroup> wgKeyEnd : i32;
    ${attentionHelpers(['Q', 'K', 'V'])}

    fn main(index : i32) {
      ${ownedRows(L, 'Tq', 'qb')}
      ${queryBlockKeyRange(L, 'qb')}

      let qRow = bh * Tq + rowC;
      let sc = uniforms.scale;
      ${loadSlice('q', 'Q', 'qRow', 'sc')}
      ${rep(4, 'var o# = vec4<f32>(0.0);')}
      var m = -3.0e38;
      var l = 0.0;

      ${walkKeyTiles(L, [['part', 'q', 'kT']], `
        // full scores (sums of the row's partials), online softmax, p * v into this slice of o
        var mt = -3.0e38;
        for (var j = 0; j < nj; j++) {
          mt = max(mt, ${rowSum(L, 'part', 'j')});
        }
        let mNew = max(m, mt);
        let alpha = exp(m - mNew);
        l = l * alpha;
        ${rep(4, 'o# = o# * alpha;')}
        for (var j = 0; j < nj; j++) {
          let p = exp(${rowSum(L, 'part', 'j')} - mNew);
          l = l + p;
          let pv = vec4<f32>(p);
          let vb = j * ${D4} + 4 * h;
          ${rep(4, 'o# = fma(pv, vT[vb + #], o#);')}
        }
        m = mNew;`)}

      if (live && row < Tq) {
        let inv = select(0.0, 1.0 / l, l > 0.0);
        ${rep(4, 'storeRow4(qRow, 4 * h + #, W, o# * inv);')}
        if (h == 0 && uniforms.outShape > BH * Tq * D) {
          result[BH * Tq * D + qRow] = m + log(l);
        }
      }
    }`;
  return rowBlockProgram(L, {
    shaderKey: `faeAttentionForward_${L.dMax}`,
    variableNames: ['Q', 'K', 'V'],
    variableComponents: [4, 4, 4],
    outputShape: [bh * tq * d + (writeLse ? bh * tq : 0)],
    bh,
    rows: tq,
    uniforms: 'scale : f32, causal : i32,',
    userCode,
  });
}
