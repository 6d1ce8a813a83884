// Symmetric per-row int8 quantisation on WebGPU, one dispatch: x [R, K] float32 -> one int32 buffer
// holding the packed rows then the scales, [R * KW + R] with KW = ceil(K / 4):
//   words [r * KW, (r + 1) * KW): q[r, 4w .. 4w + 3] as signed bytes, little endian, zero padded;
//   word  R * KW + r:             bitcast<i32>(scale_r), scale_r = max_c |x[r, c]| / 127 (1 if 0).
// q = clamp(round(x / scale_r), -127, 127) (round half to even, as the float64 reference in
// quant/int8-reference.ts). The same kernel quantises activations per token and weights per output
// channel (rows of W^T). One workgroup of 64 invocations per row: a max-reduction through workgroup
// memory, then each invocation packs words c, c + 64, ...
import { FLAT_WORKGROUP } from './wgsl-util.js';

const WG = 64;

/** X [R, K] -> int32 [R * ceil(K/4) + R] (packed rows, then the row scales as f32 bits). */
export function int8QuantizeRowsProgram(rows: number, k: number) {
  const kw = Math.ceil(k / 4);
  const userCode = `
    var<workgroup> red : array<f32, ${WG}>;
    ${FLAT_WORKGROUP}

    fn main(index : i32) {
      let R = uniforms.xShape.x;
      let K = uniforms.xShape.y;
      let KW = (K + 3) / 4;
      let wg = flatWorkgroupIndex();
      let live = wg < R; // tfjs may pad a folded grid
      let row = min(wg, R - 1);
      let tid = i32(localIndex);
      let base = row * K;
      var amax = 0.0;
      for (var c = tid; c < K; c += ${WG}) { amax = max(amax, abs(X[base + c])); }
      red[tid] = amax;
      workgroupBarrier();
      for (var s = ${WG / 2}; s > 0; s = s / 2) {
        if (tid < s) { red[tid] = max(red[tid], red[tid + s]); }
        workgroupBarrier();
      }
      let rowMax = red[0];
      let scale = select(rowMax / 127.0, 1.0, rowMax == 0.0);
      if (!live) { return; }
      if (tid == 0) { result[R * KW + row] = bitcast<i32>(scale); }
      for (var w = tid; w < KW; w += ${WG}) {
        var word = 0u;
        for (var j = 0; j < 4; j++) {
          let c = 4 * w + j;
          var q = 0;
          if (c < K) { q = i32(clamp(round(X[base + c] / scale), -127.0, 127.0)); }
          word = word | ((bitcast<u32>(q) & 0xffu) << (8u * u32(j)));
        }
        result[row * KW + w] = bitcast<i32>(word);
      }
    }`;
  return {
    variableNames: ['X'],
    outputShape: [rows * kw + rows],
    shaderKey: 'faeInt8QuantizeRows',
    dispatchLayout: { x: [0] },
    dispatch: [rows, 1, 1] as [number, number, number],
    workgroupSize: [WG, 1, 1] as [number, number, number],
    getUserCode: () => userCode,
  };
}
