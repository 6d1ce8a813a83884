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
// sees keys j <= i + (Tk - Tq).
import { attentionLayout } from './attention-layout.js';
import { FLAT_WORKGROUP, STORE_ROW4, rep, vec4RowLoader } from './wgsl-util.js';

/** Q [BH,Tq,D], K [BH,Tk,D], V [BH,Tk,D] -> flat [BH*Tq*D (+ BH*Tq when writeLse)]. */
export function attentionForwardProgram(bh: number, tq: number, d: number, writeLse: boolean) {
  const { dMax, d4: D4, slices: S, rows: R, tile: TK, threads } = attentionLayout(d, 1);
  const nQB = Math.ceil(tq / R);
  const userCode = `
    var<workgroup> kT : array<vec4<f32>, ${TK * D4}>;
    var<workgroup> vT : array<vec4<f32>, ${TK * D4}>;
    var<workgroup> part : array<f32, ${TK * R * S}>;
    var<workgroup> wgKeyEnd : i32;
    ${vec4RowLoader('Q')}
    ${vec4RowLoader('K')}
    ${vec4RowLoader('V')}
    ${FLAT_WORKGROUP}
    ${STORE_ROW4}

    fn main(index : i32) {
      let BH = uniforms.qShape.x;
      let Tq = uniforms.qShape.y;
      let D = uniforms.qShape.z;
      let W = D / 4; // vec4s per row
      let Tk = uniforms.kShape.y;
      let causal = uniforms.causal != 0;
      let nQB = (Tq + ${R - 1}) / ${R};
      let wg = flatWorkgroupIndex();
      let live = wg < BH * nQB; // tfjs may pad a folded grid
      let bh = min(wg / nQB, BH - 1);
      let qb = wg % nQB;
      let tid = i32(localIndex);
      let r = tid / ${S}; // row in the workgroup
      let h = tid % ${S}; // head slice: vec4s 4h .. 4h+3
      let row = qb * ${R} + r;
      let rowC = min(row, Tq - 1);
      let off = Tk - Tq;
      // keys this row may see, and the workgroup's last key (its last row's limit)
      let lim = select(Tk, clamp(rowC + off + 1, 0, Tk), causal);
      if (tid == 0) {
        wgKeyEnd = select(Tk, clamp(min(qb * ${R} + ${R - 1}, Tq - 1) + off + 1, 0, Tk), causal);
      }
      let keyEnd = workgroupUniformLoad(&wgKeyEnd);

      let qRow = bh * Tq + rowC;
      let sc = uniforms.scale;
      ${rep(4, 'let q# = ldQ(qRow, 4 * h + #, W) * sc;')}
      ${rep(4, 'var o# = vec4<f32>(0.0);')}
      var m = -3.0e38;
      var l = 0.0;
      let pr = r * ${S};

      for (var k0 = 0; k0 < keyEnd; k0 += ${TK}) {
        for (var e = tid; e < ${TK * D4}; e += ${threads}) {
          let j = k0 + e / ${D4};
          let c = e % ${D4};
          let ok = j < Tk;
          let src = bh * Tk + min(j, Tk - 1);
          kT[e] = select(vec4<f32>(0.0), ldK(src, c, W), ok);
          vT[e] = select(vec4<f32>(0.0), ldV(src, c, W), ok);
        }
        workgroupBarrier();
        // keys of this tile the workgroup needs (a runtime bound: the key loops stay loops)
        let nk = min(${TK}, keyEnd - k0);
        // 1. this slice's partial scores for the tile's keys
        for (var j = 0; j < nk; j++) {
          let kb = j * ${D4} + 4 * h;
          let a = fma(q0, kT[kb], fma(q1, kT[kb + 1], fma(q2, kT[kb + 2], q3 * kT[kb + 3])));
          part[j * ${R * S} + pr + h] = a.x + a.y + a.z + a.w;
        }
        workgroupBarrier();
        // 2. full scores (sums of the row's partials), online softmax, p * v into this slice of o
        let nj = clamp(lim - k0, 0, nk); // keys this row sees
        var mt = -3.0e38;
        for (var j = 0; j < nj; j++) {
          mt = max(mt, ${rep(S, (hh) => `part[j * ${R * S} + pr + ${hh}]`, ' + ')});
        }
        let mNew = max(m, mt);
        let alpha = exp(m - mNew);
        l = l * alpha;
        ${rep(4, 'o# = o# * alpha;')}
        for (var j = 0; j < nj; j++) {
          let p = exp(${rep(S, (hh) => `part[j * ${R * S} + pr + ${hh}]`, ' + ')} - mNew);
          l = l + p;
          let pv = vec4<f32>(p);
          let vb = j * ${D4} + 4 * h;
          ${rep(4, 'o# = fma(pv, vT[vb + #], o#);')}
        }
        m = mNew;
        workgroupBarrier();
      }

      if (live && row < Tq) {
        let inv = select(0.0, 1.0 / l, l > 0.0);
        ${rep(4, 'storeRow4(qRow, 4 * h + #, W, o# * inv);')}
        if (h == 0 && uniforms.outShape > BH * Tq * D) {
          result[BH * Tq * D + qRow] = m + log(l);
        }
      }
    }`;
  return {
    variableNames: ['Q', 'K', 'V'],
    variableComponents: [4, 4, 4],
    outputShape: [bh * tq * d + (writeLse ? bh * tq : 0)],
    shaderKey: `faeAttentionForward_${dMax}`,
    dispatchLayout: { x: [0] },
    dispatch: [bh * nQB, 1, 1] as [number, number, number],
    workgroupSize: [threads, 1, 1] as [number, number, number],
    uniforms: 'scale : f32, causal : i32,',
    getUserCode: () => userCode,
  };
}
