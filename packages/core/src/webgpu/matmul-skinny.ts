// A matrix product with few rows (M <= 32, e.g. one token per sequence in autoregressive sampling)
// for tfjs's WebGPU backend. Such products read the whole weight matrix to produce a handful of
// rows: they are bound by memory and launch latency, and tfjs's 32x32-tile kernel ran them at ~190 us
// each on an H100 (TARFlow sampling: 17k launches, 3.4 s of GPU; BENCHMARKS.md, issue #18).
//
// A workgroup owns 16 output columns and all M rows; its 256 invocations are 16 columns x 16 K-lanes.
// K is walked in chunks of 128: the chunk of A ([M, 128], at most 16 KiB) is staged in workgroup
// memory, then invocation (c, l) takes 4 consecutive k per step (lane l: k = 4 l + 64 s), loads the 4
// weights of its column and, per row, one vec4 of A from workgroup memory (a broadcast: every column of
// a lane reads the same address), keeping M sums in registers (MB = M rounded up to 8, 16 or 32: one
// pipeline per bucket). The 16 K-lane partials of each output are summed through workgroup memory in a
// fixed order, 8 rows at a time. The first version read A from global memory once per weight (32 loads
// per k) with 8 K-lanes: 316 us per TARFlow product on the H100, slower than tfjs's kernel.
// A is [M, K] row-major (not transposed); B is [K, N] or, transposed, [N, K].
// Optional fused epilogue: + bias[N], then an activation.
import { activationSnippet, type FusedActivation } from './matmul-tiled.js';
import { rep } from './wgsl-util.js';

export const SKINNY_MAX_ROWS = 32;
const COLS = 16;
const LANES = 16;
const CHUNK = 128; // k per staged chunk of A: 2 steps of LANES x 4

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
  // consecutive invocations: consecutive columns of a B row ([K, N]), or consecutive lanes along one column's k ([N, K])
  const split = transposeB ? `let c = tid / ${LANES}; let l = tid % ${LANES};` : `let c = tid % ${COLS}; let l = tid / ${COLS};`;
  const weight = (j: number) => (transposeB ? `B[nIn * K + k + ${j}]` : `B[(k + ${j}) * N + nIn]`);
  const userCode = `
    var<workgroup> aChunk : array<vec4<f32>, ${(MB * CHUNK) / 4}>;
    var<workgroup> part : array<f32, ${8 * LANES * COLS}>;

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
      for (var k0 = 0; k0 < K; k0 += ${CHUNK}) {
        // stage A[0..M, k0..k0+CHUNK] (zero past M and K), consecutive invocations on consecutive k
        for (var e = tid; e < ${MB * CHUNK}; e += ${LANES * COLS}) {
          let m = e / ${CHUNK};
          let kk = k0 + e % ${CHUNK};
          var v = 0.0;
          if (m < M && kk < K) { v = A[m * K + kk]; }
          let slot = m * ${CHUNK / 4} + (e % ${CHUNK}) / 4;
          aChunk[slot][e % 4] = v;
        }
        workgroupBarrier();
        for (var s = 0; s < ${CHUNK / (4 * LANES)}; s++) {
          let kc = 4 * l + ${4 * LANES} * s; // offset in the chunk
          let k = k0 + kc;
          var w = vec4<f32>(0.0);
          if (k + 3 < K) {
            w = vec4<f32>(${[0, 1, 2, 3].map(weight).join(', ')});
          } else {
            ${[0, 1, 2, 3].map((j) => `if (k + ${j} < K) { w[${j}] = ${weight(j)}; }`).join('\n            ')}
          }
          let slot = kc / 4;
          ${rep(MB, (i) => `acc${i} = acc${i} + dot(aChunk[${i * (CHUNK / 4)} + slot], w);`)}
        }
        workgroupBarrier();
      }
      // sum the LANES partials of every output, 8 rows at a time
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
    shaderKey: `faeSkinnyMatMul2_${MB}_${transposeB}_${hasBias}_${activation}`,
    dispatchLayout: { x: [2], y: [1], z: [0] },
    dispatch: [Math.ceil(N / COLS), 1, 1],
    workgroupSize: [LANES * COLS, 1, 1] as [number, number, number],
    getUserCode: () => userCode,
  };
}
