// Fused attention backward for tfjs's WebGPU backend (flash-attention 2 style, float32), three
// programs that never materialise a [T, T] matrix:
//   delta:  Delta[r] = sum_d dO[r, d] * O[r, d]                                  [BH*Tq]
//   dQ:     workgroups own query rows and walk key tiles:
//           p = exp(scale q.k_j - lse), ds = p (dO.v_j - Delta), dq += ds k_j; dq *= scale
//   dK/dV:  workgroups own key rows and walk query tiles (a uniform picks which):
//           dv += p dO_i              (mode 0)
//           dk += p (dO_i.v - Delta_i) q_i; dk *= scale   (mode 1)
// Rows are split into 16-wide head slices per invocation, partial dot products summed through
// workgroup memory, as in the forward (attention-layout.ts; shared WGSL in attention-wgsl.ts). `P` is the forward's flat output:
// O [BH, Tq, D] then LSE [BH, Tq].
import { attentionLayout } from './attention-layout.js';
import { attentionHelpers, hsum, loadSlice, ownPartial, ownedRows, queryBlockKeyRange, rowBlockProgram, rowSum, sliceDot, stageTile, tileMemory, walkKeyTiles } from './attention-wgsl.js';
import { FLAT_WORKGROUP, rep } from './wgsl-util.js';

/** O (flat forward output, O first) and dO [BH, Tq, D] -> Delta [BH*Tq]. */
export function attentionDeltaProgram(bh: number, tq: number) {
  const WG = 64;
  const n = bh * tq;
  const userCode = `
    ${FLAT_WORKGROUP}

    fn main(index : i32) {
      let D = uniforms.doutShape.z;
      let rows = uniforms.doutShape.x * uniforms.doutShape.y;
      let r = flatWorkgroupIndex() * ${WG} + i32(localIndex);
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

/** The dQ and dK/dV programs' inputs (fresh arrays per program: tfjs keeps the program object). */
function gradInputs() {
  return { variableNames: ['Q', 'K', 'V', 'Dout', 'P', 'DELTA'], variableComponents: [4, 4, 4, 4, 1, 1] };
}

/** Q, K, V, dO [BH, T, D], P (forward output), Delta [BH*Tq] -> dQ flat [BH*Tq*D]. */
export function attentionGradQProgram(bh: number, tq: number, d: number) {
  const L = attentionLayout(d, 2);
  const D4 = L.d4;
  const userCode = `
    ${tileMemory(L, ['kT', 'vT'], ['partS', 'partP'])}
    var<workgroup> wgKeyEnd : i32;
    ${attentionHelpers(['Q', 'K', 'V', 'Dout'])}

    fn main(index : i32) {
      ${ownedRows(L, 'Tq', 'qb')}
      ${queryBlockKeyRange(L, 'qb')}

      let qRow = bh * Tq + rowC;
      let sc = uniforms.scale;
      let lse = P[BH * Tq * D + qRow];
      let delta = DELTA[qRow];
      ${loadSlice('q', 'Q', 'qRow', 'sc')}
      ${loadSlice('g', 'Dout', 'qRow')}
      ${rep(4, 'var dq# = vec4<f32>(0.0);')}

      ${walkKeyTiles(L, [['partS', 'q', 'kT'], ['partP', 'g', 'vT']], `
        for (var j = 0; j < nj; j++) {
          let s = ${rowSum(L, 'partS', 'j')};
          let dp = ${rowSum(L, 'partP', 'j')};
          let ds = vec4<f32>(exp(s - lse) * (dp - delta));
          let kb = j * ${D4} + 4 * h;
          ${rep(4, (i) => `dq${i} = fma(ds, kT[kb + ${i}], dq${i});`)}
        }`)}

      if (live && row < Tq) {
        ${rep(4, 'storeRow4(qRow, 4 * h + #, W, dq# * sc);')}
      }
    }`;
  return rowBlockProgram(L, {
    shaderKey: `faeAttentionGradQ_${L.dMax}`,
    ...gradInputs(),
    outputShape: [bh * tq * d],
    bh,
    rows: tq,
    uniforms: 'scale : f32, causal : i32,',
    userCode,
  });
}

/** Same inputs as dQ -> dV (mode 0) or dK (mode 1), flat [BH*Tk*D]. */
export function attentionGradKVProgram(bh: number, tk: number, d: number) {
  const L = attentionLayout(d, 2);
  const { d4: D4, rows: R, tile: TQ, threads } = L;
  const userCode = `
    ${tileMemory(L, ['qT', 'gT'], ['partS', 'partP'])}
    var<workgroup> lseT : array<f32, ${TQ}>;
    var<workgroup> dT : array<f32, ${TQ}>;
    var<workgroup> wgQueryStart : i32;
    ${attentionHelpers(['Q', 'K', 'V', 'Dout'])}

    fn main(index : i32) {
      ${ownedRows(L, 'Tk', 'kb0')}
      let modeK = uniforms.mode != 0;
      // queries that see this key: i >= key - off (causal), all otherwise
      let first = select(0, max(rowC - off, 0), causal);
      if (tid == 0) { wgQueryStart = select(0, clamp(kb0 * ${R} - off, 0, Tq), causal); }
      let queryStart = workgroupUniformLoad(&wgQueryStart);

      let kRow = bh * Tk + rowC;
      let sc = uniforms.scale;
      ${loadSlice('k', 'K', 'kRow', 'sc')}
      ${rep(4, 'let v# = select(vec4<f32>(0.0), ldV(kRow, 4 * h + #, W), modeK);')}
      ${rep(4, 'var acc# = vec4<f32>(0.0);')}
      let lseBase = BH * Tq * D + bh * Tq;

      for (var q0 = queryStart; q0 < Tq; q0 += ${TQ}) {
        ${stageTile(L, 'q0', 'Tq', [['qT', 'Q'], ['gT', 'Dout']])}
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
          ${ownPartial(L, 'partS', 'i')} = ${hsum('a')};
          if (modeK) {
            let b = ${sliceDot('v', (c) => `gT[qb + ${c}]`)};
            ${ownPartial(L, 'partP', 'i')} = ${hsum('b')};
          }
        }
        workgroupBarrier();
        // queries of the tile that see this key: [iBeg, nq)
        let iBeg = clamp(first - q0, 0, nq);
        for (var i = iBeg; i < nq; i++) {
          let p = exp(${rowSum(L, 'partS', 'i')} - lseT[i]);
          let qb = i * ${D4} + 4 * h;
          if (modeK) {
            let dp = ${rowSum(L, 'partP', 'i')};
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
  return rowBlockProgram(L, {
    shaderKey: `faeAttentionGradKV_${L.dMax}`,
    ...gradInputs(),
    outputShape: [bh * tk * d],
    bh,
    rows: tk,
    uniforms: 'scale : f32, causal : i32, mode : i32,',
    userCode,
  });
}
