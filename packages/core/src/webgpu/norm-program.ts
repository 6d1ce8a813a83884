// Fused LayerNorm / RMSNorm forward over the last axis for tfjs's WebGPU backend: one workgroup of
// 64 invocations per row computes the statistics (two-pass: mean, then the variance around it, as
// PyTorch), the affine weight/bias and, optionally, adaLN modulation y * (1 + scale[b]) + shift[b]
// with per-sample [B, D] scale/shift, in ONE dispatch (tfjs's composite takes 6-9).
// The row is read once into registers (NV vec4 per invocation, NV a compile-time bucket of
// D / 256), all tensors are bound as vec4 arrays (D % 4 == 0), and each row sum is a two-level
// reduction through workgroup memory (2 barriers).
import { FLAT_WORKGROUP, rep } from './wgsl-util.js';

export const NORM_MAX_DIM = 4096;
const WG = 64;

export interface NormProgramSpec {
  rms: boolean;
  hasWeight: boolean;
  hasBias: boolean;
  /** adaLN: 'scale' = y * (1 + SCALE[b]); 'shift-scale' adds + SHIFT[b]. */
  modulate: 'none' | 'scale' | 'shift-scale';
}

/** vec4s per invocation for a row of D floats: 1, 2, 4, 8 or 16. */
function vec4sPerThread(d: number): number {
  let nv = 1;
  while (nv * 4 * WG < d) nv *= 2;
  return nv;
}

/** X [N, D] (+ W [D], B [D], SHIFT [Bt, D], SCALE [Bt, D], in that order when present) -> [N, D]. */
export function normProgram(n: number, d: number, spec: NormProgramSpec) {
  const { rms, hasWeight, hasBias, modulate } = spec;
  const NV = vec4sPerThread(d);
  const variableNames = ['X'];
  if (hasWeight) variableNames.push('W');
  if (hasBias && !rms) variableNames.push('B');
  if (modulate === 'shift-scale') variableNames.push('SHIFT');
  if (modulate !== 'none') variableNames.push('SCALE');
  const stats = rms
    ? `let mean = 0.0;
      var s = 0.0;
      ${rep(NV, 's = s + dot(x#, x#);')}
      let rstd = inverseSqrt(rowSum(s, tid, 0) / f32(D) + uniforms.eps);`
    : `var s = 0.0;
      ${rep(NV, 's = s + x#.x + x#.y + x#.z + x#.w;')}
      let mean = rowSum(s, tid, 0) / f32(D);
      var s2 = 0.0;
      ${rep(NV, '{ let c = select(vec4<f32>(0.0), x# - vec4<f32>(mean), ok#); s2 = s2 + dot(c, c); }')}
      let rstd = inverseSqrt(rowSum(s2, tid, 1) / f32(D) + uniforms.eps);`;
  const userCode = `
    var<workgroup> red : array<f32, ${2 * WG}>;
    var<workgroup> red2 : array<f32, 16>;
    ${FLAT_WORKGROUP}

    // Sum of v over the workgroup (slot: which scratch arrays); every invocation gets it.
    fn rowSum(v : f32, tid : i32, slot : i32) -> f32 {
      red[slot * ${WG} + tid] = v;
      workgroupBarrier();
      if (tid < 8) {
        let b = slot * ${WG} + tid * 8;
        red2[slot * 8 + tid] = red[b] + red[b + 1] + red[b + 2] + red[b + 3] + red[b + 4] + red[b + 5] + red[b + 6] + red[b + 7];
      }
      workgroupBarrier();
      let b2 = slot * 8;
      return red2[b2] + red2[b2 + 1] + red2[b2 + 2] + red2[b2 + 3] + red2[b2 + 4] + red2[b2 + 5] + red2[b2 + 6] + red2[b2 + 7];
    }

    fn main(index : i32) {
      let N = uniforms.xShape.x;
      let D = uniforms.xShape.y;
      let W4 = D / 4;
      let wg = flatWorkgroupIndex();
      let live = wg < N; // tfjs may pad a folded grid
      let row = min(wg, N - 1);
      let tid = i32(localIndex);
      let base = row * W4;
      ${rep(NV, `let c# = tid + ${WG} * #;`)}
      ${rep(NV, 'let ok# = c# < W4;')}
      ${rep(NV, 'let x# = select(vec4<f32>(0.0), X[base + min(c#, W4 - 1)], ok#);')}
      ${stats}
      let mb = (row / uniforms.rowsPerBatch) * W4;
      if (live) {
        ${rep(NV, `if (ok#) {
          var y = (x# - vec4<f32>(mean)) * rstd;
          ${hasWeight ? 'y = y * W[c#];' : ''}
          ${hasBias && !rms ? 'y = y + B[c#];' : ''}
          ${modulate !== 'none' ? 'y = y * (vec4<f32>(1.0) + SCALE[mb + c#]);' : ''}
          ${modulate === 'shift-scale' ? 'y = y + SHIFT[mb + c#];' : ''}
          result[base + c#] = y;
        }`)}
      }
    }`;
  return {
    variableNames,
    variableComponents: variableNames.map(() => 4),
    outputComponent: 4,
    outputShape: [n, d],
    shaderKey: `faeNorm_${rms ? 'rms' : 'layer'}_${hasWeight}_${hasBias && !rms}_${modulate}_${NV}`,
    dispatchLayout: { x: [0] },
    dispatch: [n, 1, 1] as [number, number, number],
    workgroupSize: [WG, 1, 1] as [number, number, number],
    uniforms: 'eps : f32, rowsPerBatch : i32,',
    getUserCode: () => userCode,
  };
}
