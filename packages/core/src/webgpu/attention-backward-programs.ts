// Fused attention backward for tfjs's WebGPU backend (flash-attention 2 style, float32), three
// programs that never materialise a [T, T] matrix:
//   delta:  Delta[r] = sum_d dO[r, d] * O[r, d]                                  [BH*Tq]
//   dQ:     workgroups own query rows and walk key tiles:
//           p = exp(scale q.k_j - lse), ds = p (dO.v_j - Delta), dq += ds k_j; dq *= scale
//   dK/dV:  workgroups own key rows and walk query tiles (a uniform picks which):
//           dv += p dO_i              (mode 0)
//           dk += p (dO_i.v - Delta_i) q_i; dk *= scale   (mode 1)
// Rows are split into 16-wide head slices per invocation, partial dot products summed through
// workgroup memory, as in the forward (attention-layout.ts). `P` is the forward's flat output:
// O [BH, Tq, D] then LSE [BH, Tq].
import { attentionLayout } from './attention-layout.js';
import { FLAT_WORKGROUP, STORE_ROW4, rep, vec4RowLoader } from './wgsl-util.js';

/** O (flat forward output, O first) and dO [BH, Tq, D] -> Delta [BH*Tq]. */
export function attentionDeltaProgram(bh: number, tq: number) {
  const WG = 64;
  const n = bh * tq;
  const userCode = `
    fn main(index : i32) {
      let D = uniforms.doutShape.z;
      let rows = uniforms.doutShape.x * uniforms.doutShape.y;
      let r = i32(workgroupId.x + numWorkgroups.x * (workgroupId.y + numWorkgroups.y * workgroupId.z)) * ${WG} + i32(localIndex);
      if (r >= rows) { return; }
      var acc = vec4<f32>(0.0);
      let b = r * D;
      var d = 0;
      for (; d + 3 < D; d += 4) {
        acc = fma(vec4<f32>(P[b + d], P[b + d + 1], P[b + d + 2], P[b + d + 3]),
                  vec4<f32>(Dout[b + d], Dout[b + d + 1], Dout[b + d + 2], Dout[b + d + 3]), acc);
      }
      var s = acc.x + acc.y + acc.z + acc.w;
      for (; d < D; d++) { s = fma(P[b + d], Dout[b + d], s); }
      result[r] = s;
    }`;
  return {
    variableNames: ['P', 'Dout'],
    outputShape: [n],
    shaderKey: 'faeAttentionDelta',
    dispatchLayout: { x: [0] },
    dispatch: [Math.ceil(n / WG), 1, 1] as [number, number, number],
    workgroupSize: [WG, 1, 1] as [number, number, number],
    getUserCode: () => userCode,
  };
}

const COMMON_HEADER = `
    ${vec4RowLoader('Q')}
    ${vec4RowLoader('K')}
    ${vec4RowLoader('V')}
    ${vec4RowLoader('Dout')}
    ${FLAT_WORKGROUP}
    ${STORE_ROW4}`;

/** `a . b` over this invocation's slice: four vec4 products summed. */
function sliceDot(a: string, b: (i: number) => string): string {
  return `fma(${a}0, ${b(0)}, fma(${a}1, ${b(1)}, fma(${a}2, ${b(2)}, ${a}3 * ${b(3)})))`;
}
const hsum = (v: string) => `(${v}.x + ${v}.y + ${v}.z + ${v}.w)`;

/** Q, K, V, dO [BH, T, D], P (forward output), Delta [BH*Tq] -> dQ flat [BH*Tq*D]. */
export function attentionGradQProgram(bh: number, tq: number, d: number) {
  const { dMax, d4: D4, slices: S, rows: R, tile: TK, threads } = attentionLayout(d, 2);
  const nQB = Math.ceil(tq / R);
  const userCode = `
    var<workgroup> kT : array<vec4<f32>, ${TK * D4}>;
    var<workgroup> vT : array<vec4<f32>, ${TK * D4}>;
    var<workgroup> partS : array<f32, ${TK * R * S}>;
    var<workgroup> partP : array<f32, ${TK * R * S}>;
    var<workgroup> wgKeyEnd : i32;
    ${COMMON_HEADER}

    fn main(index : i32) {
      let BH = uniforms.qShape.x;
      let Tq = uniforms.qShape.y;
      let D = uniforms.qShape.z;
      let W = D / 4;
      let Tk = uniforms.kShape.y;
      let causal = uniforms.causal != 0;
      let nQB = (Tq + ${R - 1}) / ${R};
      let wg = flatWorkgroupIndex();
      let live = wg < BH * nQB;
      let bh = min(wg / nQB, BH - 1);
      let qb = wg % nQB;
      let tid = i32(localIndex);
      let r = tid / ${S};
      let h = tid % ${S};
      let row = qb * ${R} + r;
      let rowC = min(row, Tq - 1);
      let off = Tk - Tq;
      let lim = select(Tk, clamp(rowC + off + 1, 0, Tk), causal);
      if (tid == 0) {
        wgKeyEnd = select(Tk, clamp(min(qb * ${R} + ${R - 1}, Tq - 1) + off + 1, 0, Tk), causal);
      }
      let keyEnd = workgroupUniformLoad(&wgKeyEnd);

      let qRow = bh * Tq + rowC;
      let sc = uniforms.scale;
      let lse = P[BH * Tq * D + qRow];
      let delta = DELTA[qRow];
      ${rep(4, 'let q# = ldQ(qRow, 4 * h + #, W) * sc;')}
      ${rep(4, 'let g# = ldDout(qRow, 4 * h + #, W);')}
      ${rep(4, 'var dq# = vec4<f32>(0.0);')}
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
        let nk = min(${TK}, keyEnd - k0);
        for (var j = 0; j < nk; j++) {
          let kb = j * ${D4} + 4 * h;
          let a = ${sliceDot('q', (i) => `kT[kb + ${i}]`)};
          let b = ${sliceDot('g', (i) => `vT[kb + ${i}]`)};
          partS[j * ${R * S} + pr + h] = ${hsum('a')};
          partP[j * ${R * S} + pr + h] = ${hsum('b')};
        }
        workgroupBarrier();
        let nj = clamp(lim - k0, 0, nk); // keys this row sees
        for (var j = 0; j < nj; j++) {
          let s = ${rep(S, (hh) => `partS[j * ${R * S} + pr + ${hh}]`, ' + ')};
          let dp = ${rep(S, (hh) => `partP[j * ${R * S} + pr + ${hh}]`, ' + ')};
          let ds = vec4<f32>(exp(s - lse) * (dp - delta));
          let kb = j * ${D4} + 4 * h;
          ${rep(4, (i) => `dq${i} = fma(ds, kT[kb + ${i}], dq${i});`)}
        }
        workgroupBarrier();
      }

      if (live && row < Tq) {
        ${rep(4, 'storeRow4(qRow, 4 * h + #, W, dq# * sc);')}
      }
    }`;
  return {
    variableNames: ['Q', 'K', 'V', 'Dout', 'P', 'DELTA'],
    variableComponents: [4, 4, 4, 4, 1, 1],
    outputShape: [bh * tq * d],
    shaderKey: `faeAttentionGradQ_${dMax}`,
    dispatchLayout: { x: [0] },
    dispatch: [bh * nQB, 1, 1] as [number, number, number],
    workgroupSize: [threads, 1, 1] as [number, number, number],
    uniforms: 'scale : f32, causal : i32,',
    getUserCode: () => userCode,
  };
}

/** Same inputs as dQ -> dV (mode 0) or dK (mode 1), flat [BH*Tk*D]. */
export function attentionGradKVProgram(bh: number, tk: number, d: number) {
  const { dMax, d4: D4, slices: S, rows: R, tile: TQ, threads } = attentionLayout(d, 2);
  const nKB = Math.ceil(tk / R);
  const userCode = `
    var<workgroup> qT : array<vec4<f32>, ${TQ * D4}>;
    var<workgroup> gT : array<vec4<f32>, ${TQ * D4}>;
    var<workgroup> partS : array<f32, ${TQ * R * S}>;
    var<workgroup> partP : array<f32, ${TQ * R * S}>;
    var<workgroup> lseT : array<f32, ${TQ}>;
    var<workgroup> dT : array<f32, ${TQ}>;
    var<workgroup> wgQueryStart : i32;
    ${COMMON_HEADER}

    fn main(index : i32) {
      let BH = uniforms.qShape.x;
      let Tq = uniforms.qShape.y;
      let D = uniforms.qShape.z;
      let W = D / 4;
      let Tk = uniforms.kShape.y;
      let causal = uniforms.causal != 0;
      let modeK = uniforms.mode != 0;
      let nKB = (Tk + ${R - 1}) / ${R};
      let wg = flatWorkgroupIndex();
      let live = wg < BH * nKB;
      let bh = min(wg / nKB, BH - 1);
      let kb0 = wg % nKB;
      let tid = i32(localIndex);
      let r = tid / ${S};
      let h = tid % ${S};
      let row = kb0 * ${R} + r;
      let rowC = min(row, Tk - 1);
      let off = Tk - Tq;
      // queries that see this key: i >= key - off (causal), all otherwise
      let first = select(0, max(rowC - off, 0), causal);
      if (tid == 0) { wgQueryStart = select(0, clamp(kb0 * ${R} - off, 0, Tq), causal); }
      let queryStart = workgroupUniformLoad(&wgQueryStart);

      let kRow = bh * Tk + rowC;
      let sc = uniforms.scale;
      ${rep(4, 'let k# = ldK(kRow, 4 * h + #, W) * sc;')}
      ${rep(4, 'let v# = select(vec4<f32>(0.0), ldV(kRow, 4 * h + #, W), modeK);')}
      ${rep(4, 'var acc# = vec4<f32>(0.0);')}
      let lseBase = BH * Tq * D + bh * Tq;
      let pr = r * ${S};

      for (var q0 = queryStart; q0 < Tq; q0 += ${TQ}) {
        for (var e = tid; e < ${TQ * D4}; e += ${threads}) {
          let i = q0 + e / ${D4};
          let c = e % ${D4};
          let ok = i < Tq;
          let src = bh * Tq + min(i, Tq - 1);
          qT[e] = select(vec4<f32>(0.0), ldQ(src, c, W), ok);
          gT[e] = select(vec4<f32>(0.0), ldDout(src, c, W), ok);
        }
        for (var e = tid; e < ${TQ}; e += ${threads}) {
          let i = min(q0 + e, Tq - 1);
          lseT[e] = P[lseBase + i];
          dT[e] = DELTA[bh * Tq + i];
        }
        workgroupBarrier();
        let nq = min(${TQ}, Tq - q0);
        for (var i = 0; i < nq; i++) {
          let qb = i * ${D4} + 4 * h;
          let a = ${sliceDot('k', (c) => `qT[qb + ${c}]`)};
          partS[i * ${R * S} + pr + h] = ${hsum('a')};
          if (modeK) {
            let b = ${sliceDot('v', (c) => `gT[qb + ${c}]`)};
            partP[i * ${R * S} + pr + h] = ${hsum('b')};
          }
        }
        workgroupBarrier();
        // queries of the tile that see this key: [iBeg, nq)
        let iBeg = clamp(first - q0, 0, nq);
        for (var i = iBeg; i < nq; i++) {
          let p = exp(${rep(S, (hh) => `partS[i * ${R * S} + pr + ${hh}]`, ' + ')} - lseT[i]);
          let qb = i * ${D4} + 4 * h;
          if (modeK) {
            let dp = ${rep(S, (hh) => `partP[i * ${R * S} + pr + ${hh}]`, ' + ')};
            let ds = vec4<f32>(p * (dp - dT[i]));
            ${rep(4, (c) => `acc${c} = fma(ds, qT[qb + ${c}], acc${c});`)}
          } else {
            let pv = vec4<f32>(p);
            ${rep(4, (c) => `acc${c} = fma(pv, gT[qb + ${c}], acc${c});`)}
          }
        }
        workgroupBarrier();
      }

      if (live && row < Tk) {
        let s = select(1.0, sc, modeK);
        ${rep(4, 'storeRow4(kRow, 4 * h + #, W, acc# * s);')}
      }
    }`;
  return {
    variableNames: ['Q', 'K', 'V', 'Dout', 'P', 'DELTA'],
    variableComponents: [4, 4, 4, 4, 1, 1],
    outputShape: [bh * tk * d],
    shaderKey: `faeAttentionGradKV_${dMax}`,
    dispatchLayout: { x: [0] },
    dispatch: [bh * nKB, 1, 1] as [number, number, number],
    workgroupSize: [threads, 1, 1] as [number, number, number],
    uniforms: 'scale : f32, causal : i32, mode : i32,',
    getUserCode: () => userCode,
  };
}
