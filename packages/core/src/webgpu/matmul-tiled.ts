// A register-tiled matrix product for tfjs's WebGPU backend.
//
// tfjs-webgpu's default matmul tiles 32x32 outputs per workgroup with 4x4 outputs per thread; on an
// H100 it reaches ~1.9 TFLOP/s. This kernel computes a BM x BN = 128 x 128 tile per workgroup of
// 16 x 16 threads, 8 x 8 outputs per thread held in registers, staging BK = 16-deep slices of A and
// B through workgroup memory (16 KiB). Threads own rows ty + 16 i and columns tx + 16 j, so reads of
// the B slice and writes of C are consecutive across a row of threads (no bank conflicts) and the A
// slice is read as a broadcast. Loads are bounds-checked (zero fill), so any M, N, K work; transposed
// operands are read in place (no copy). Batch: workgroup z; a batch of 1 broadcasts.
// Optional fused epilogue: + bias[N], then an activation.

export type FusedActivation = 'linear' | 'relu' | 'gelu' | 'gelu_tanh' | 'silu' | 'sigmoid';

export const TILE_M = 128;
export const TILE_N = 128;
export const TILE_K = 16;
const THREADS = 16; // per side: 16 x 16 = 256 invocations
const PER_THREAD = TILE_M / THREADS; // 8

export interface TiledMatMulSpec {
  transposeA: boolean;
  transposeB: boolean;
  batchA: number;
  batchB: number;
  M: number;
  N: number;
  K: number;
  hasBias: boolean;
  activation: FusedActivation;
}

export function activationSnippet(act: FusedActivation): string {
  switch (act) {
    case 'linear': return 'return x;';
    case 'relu': return 'return max(x, 0.0);';
    case 'sigmoid': return 'return 1.0 / (1.0 + exp(-x));';
    case 'silu': return 'return x / (1.0 + exp(-x));';
    // tanh-form GELU with a clamp (WGSL tanh of large arguments is NaN on some drivers)
    case 'gelu_tanh': return 'let u = clamp(0.7978845608028654 * (x + 0.044715 * x * x * x), -15.0, 15.0); return 0.5 * x * (1.0 + tanh(u));';
    // exact GELU via erf (Abramowitz-Stegun 7.1.26 is too coarse for 1e-4 parity, so use a
    // float32-accurate erf: W. J. Cody's rational form isn't available in WGSL; we use the
    // complementary error function series of Numerical Recipes erfcc, |rel err| < 1.2e-7)
    case 'gelu': return `let z = abs(x) * 0.7071067811865476;
      let t = 1.0 / (1.0 + 0.5 * z);
      let r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
      let erfv = select(r - 1.0, 1.0 - r, x >= 0.0);
      return 0.5 * x * (1.0 + erfv);`;
  }
}

/** A program object in the shape tfjs-backend-webgpu's runWebGPUProgram expects. */
export function tiledMatMulProgram(spec: TiledMatMulSpec) {
  const { transposeA, transposeB, M, N, hasBias, activation } = spec;
  const batch = Math.max(spec.batchA, spec.batchB);
  const variableNames = hasBias ? ['A', 'B', 'Bias'] : ['A', 'B'];
  const padA = TILE_M + 4; // padded row of the A slice in workgroup memory
  const aIndex = transposeA ? 'batchA * K * M + k * M + m' : 'batchA * M * K + m * K + k';
  const bIndex = transposeB ? 'batchB * N * K + n * K + k' : 'batchB * K * N + k * N + n';
  // Load order chosen so that consecutive invocations read consecutive addresses in global memory.
  const loadA = transposeA
    ? `let k = e / ${TILE_M}; let mm = e % ${TILE_M};`
    : `let mm = e / ${TILE_K}; let k = e % ${TILE_K};`;
  const loadB = transposeB
    ? `let nn = e / ${TILE_K}; let k = e % ${TILE_K};`
    : `let k = e / ${TILE_N}; let nn = e % ${TILE_N};`;
  const userCode = `
    var<workgroup> tileA : array<f32, ${TILE_K * padA}>;
    var<workgroup> tileB : array<f32, ${TILE_K * TILE_N}>;

    fn act(x : f32) -> f32 { ${activationSnippet(activation)} }

    fn main() {
      // Sizes come from the uniforms tfjs fills (one pipeline serves every shape).
      let M = uniforms.outShape[1];
      let N = uniforms.outShape[2];
      let K = ${transposeA ? 'uniforms.aShape[1]' : 'uniforms.aShape[2]'};
      let tx = i32(localId.x);
      let ty = i32(localId.y);
      let tid = ty * ${THREADS} + tx;
      let rowBase = i32(workgroupId.y) * ${TILE_M};
      let colBase = i32(workgroupId.x) * ${TILE_N};
      let batch = i32(workgroupId.z);
      let batchA = select(batch, 0, uniforms.aShape[0] == 1);
      let batchB = select(batch, 0, uniforms.bShape[0] == 1);

      var acc : array<array<f32, ${PER_THREAD}>, ${PER_THREAD}>;
      for (var i = 0; i < ${PER_THREAD}; i++) {
        for (var j = 0; j < ${PER_THREAD}; j++) { acc[i][j] = 0.0; }
      }

      for (var k0 = 0; k0 < K; k0 += ${TILE_K}) {
        // Stage A[rowBase.., k0..] into tileA[k][m] and B[k0.., colBase..] into tileB[k][n].
        for (var r = 0; r < ${(TILE_M * TILE_K) / (THREADS * THREADS)}; r++) {
          let e = tid + r * ${THREADS * THREADS};
          ${loadA}
          let m = rowBase + mm;
          let kk = k0 + k;
          var v = 0.0;
          if (m < M && kk < K) { let k = kk; v = A[${aIndex}]; }
          tileA[k * ${padA} + mm] = v;
        }
        for (var r = 0; r < ${(TILE_N * TILE_K) / (THREADS * THREADS)}; r++) {
          let e = tid + r * ${THREADS * THREADS};
          ${loadB}
          let n = colBase + nn;
          let kk = k0 + k;
          var v = 0.0;
          if (n < N && kk < K) { let k = kk; v = B[${bIndex}]; }
          tileB[k * ${TILE_N} + nn] = v;
        }
        workgroupBarrier();
        for (var k = 0; k < ${TILE_K}; k++) {
          var a : array<f32, ${PER_THREAD}>;
          var b : array<f32, ${PER_THREAD}>;
          for (var i = 0; i < ${PER_THREAD}; i++) { a[i] = tileA[k * ${padA} + ty + i * ${THREADS}]; }
          for (var j = 0; j < ${PER_THREAD}; j++) { b[j] = tileB[k * ${TILE_N} + tx + j * ${THREADS}]; }
          for (var i = 0; i < ${PER_THREAD}; i++) {
            for (var j = 0; j < ${PER_THREAD}; j++) { acc[i][j] = fma(a[i], b[j], acc[i][j]); }
          }
        }
        workgroupBarrier();
      }

      for (var i = 0; i < ${PER_THREAD}; i++) {
        let m = rowBase + ty + i * ${THREADS};
        if (m >= M) { continue; }
        for (var j = 0; j < ${PER_THREAD}; j++) {
          let n = colBase + tx + j * ${THREADS};
          if (n < N) {
            var v = acc[i][j];
            ${hasBias ? 'v = v + Bias[n];' : ''}
            result[batch * M * N + m * N + n] = act(v);
          }
        }
      }
    }`;
  return {
    variableNames,
    outputShape: [batch, M, N],
    shaderKey: `faeTiledMatMul_${transposeA}_${transposeB}_${hasBias}_${activation}`,
    dispatchLayout: { x: [2], y: [1], z: [0] },
    dispatch: [Math.ceil(N / TILE_N), Math.ceil(M / TILE_M), batch],
    workgroupSize: [THREADS, THREADS, 1] as [number, number, number],
    getUserCode: () => userCode,
  };
}
