// A matrix product with few rows (M <= 32, e.g. one token per sequence in autoregressive sampling)
// for tfjs's WebGPU backend. Such products read the whole weight matrix to produce a handful of
// rows: they are bound by memory and launch latency, and tfjs's 32x32-tile kernel ran them at ~190 us
// each on an H100 (TARFlow sampling: 17k launches, 3.4 s of GPU; BENCHMARKS.md, issue #18).
//
// A workgroup owns 32 output columns and all M rows; its 256 invocations are 32 columns x 8 K-lanes.
// Invocation (c, l) walks k = l, l + 8, ... reading one weight per k and the M values of A at that k
// (the same addresses for all 32 columns of a lane: broadcast loads), keeping M sums in registers
// (MB = M rounded up to 8, 16 or 32: one pipeline per bucket). The 8 K-lane partials of each output
// are then summed through workgroup memory, 8 rows at a time, in a fixed order. For B stored [K, N]
// consecutive invocations take consecutive columns (128-byte rows of B); for B transposed ([N, K])
// they take consecutive k of one column (32-byte sectors). A is [M, K] row-major (not transposed).
// Optional fused epilogue: + bias[N], then an activation.
import { activationSnippet, type FusedActivation } from './matmul-tiled.js';
import { rep } from './wgsl-util.js';

export const SKINNY_MAX_ROWS = 32;
const COLS = 32;
const LANES = 8;

export interface SkinnyMatMulSpec {
  transposeB: boolean;
  M: number;
  N: number;
  K: number;
  hasBias: boolean;
  activation: FusedActivation;
}

/** Rows rounded up to the register bucket: 8, 16 or 32. */
export function skinnyRowBucket(m: number): number {
  return m <= 8 ? 8 : m <= 16 ? 16 : 32;
}

/** A program object in the shape tfjs-backend-webgpu's runWebGPUProgram expects: A [1, M, K], B [1, K, N] or [1, N, K] -> [1, M, N]. */
export function skinnyMatMulProgram(spec: SkinnyMatMulSpec) {
  const { transposeB, M, N, hasBias, activation } = spec;
  if (M > SKINNY_MAX_ROWS) throw new RangeError(`skinny matmul takes at most ${SKINNY_MAX_ROWS} rows, got ${M}`);
  const MB = skinnyRowBucket(M);
  const variableNames = hasBias ? ['A', 'B', 'Bias'] : ['A', 'B'];
  // invocation -> (column c, lane l): consecutive invocations read consecutive addresses of B
  const split = transposeB ? `let c = tid / ${LANES}; let l = tid % ${LANES};` : `let c = tid % ${COLS}; let l = tid / ${COLS};`;
  const bIndex = transposeB ? 'nIn * K + k' : 'k * N + nIn';
  const userCode = `
    var<workgroup> part : array<f32, ${LANES * COLS * 8}>;

    fn act(x : f32) -> f32 { ${activationSnippet(activation)} }

    fn main() {
      let M = uniforms.outShape[1];
      let N = uniforms.outShape[2];
      let K = uniforms.aShape[2];
      let tid = i32(localId.x);
      ${split}
      let n = i32(workgroupId.x) * ${COLS} + c;
      let nIn = min(n, N - 1); // out-of-range columns read a valid one and are never written
      ${rep(MB, 'var acc# = 0.0;')}
      for (var k = l; k < K; k += ${LANES}) {
        let w = B[${bIndex}];
        ${rep(MB, (i) => `if (${i} < M) { acc${i} = fma(A[${i} * K + k], w, acc${i}); }`)}
      }
      // sum the 8 lanes of every output, 8 rows at a time
      ${rep(MB / 8, (g) => `
      ${rep(8, (i) => `part[(${i} * ${LANES} + l) * ${COLS} + c] = acc${g * 8 + i};`)}
      workgroupBarrier();
      if (l == 0 && n < N) {
        for (var i = 0; i < 8; i++) {
          let m = ${g * 8} + i;
          if (m < M) {
            var v = 0.0;
            for (var j = 0; j < ${LANES}; j++) { v = v + part[(i * ${LANES} + j) * ${COLS} + c]; }
            ${hasBias ? 'v = v + Bias[n];' : ''}
            result[m * N + n] = act(v);
          }
        }
      }
      workgroupBarrier();`)}
    }`;
  return {
    variableNames,
    outputShape: [1, M, N],
    shaderKey: `faeSkinnyMatMul_${MB}_${transposeB}_${hasBias}_${activation}`,
    dispatchLayout: { x: [2], y: [1], z: [0] },
    dispatch: [Math.ceil(N / COLS), 1, 1],
    workgroupSize: [LANES * COLS, 1, 1] as [number, number, number],
    getUserCode: () => userCode,
  };
}
