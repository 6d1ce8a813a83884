// A vec4, double-buffered register-tiled matrix product for tfjs's WebGPU backend (issue #18).
//
// Same tile as matmul-tiled.ts (128 x 128 outputs per workgroup of 16 x 16 threads, 8 x 8 outputs per
// thread) but every memory access is 16 bytes wide: operands are read from global memory as vec4,
// staged in workgroup memory as vec4 rows (k-major, 32 vec4 per row), read back as vec4 and
// accumulated with vector FMAs; the output is written as vec4. Thread (tx, ty) owns rows ty*4 + r and
// 64 + ty*4 + r, columns tx*4 + c and 64 + tx*4 + c, so a warp's B reads are 16 consecutive vec4 and
// its A reads two broadcasts. Two workgroup buffers alternate: the next K slice is fetched into
// registers while the current one is multiplied, then stored into the other buffer (one barrier per
// slice). All loops are unrolled here in TypeScript, so accumulators stay in registers.
// Needs K % 4 == 0, N % 4 == 0 and, for A transposed, M % 4 == 0 (vecMatMulSupported); rows and K
// slices past the ends are zero-filled, so any such M, N, K work. Optional epilogue: + bias[N], act.
import type { FusedActivation, TiledMatMulSpec } from './matmul-tiled.js';
import { activationSnippet } from './matmul-tiled.js';

export const VEC_TILE = 128;
const THREADS = 16; // per side: 16 x 16 = 256 invocations
const ROW_VEC4 = VEC_TILE / 4; // 32: a row of a staged slice, in vec4 (unpadded: the vec4 reads are conflict-free)

/** Whether the vec4 kernel can run this product (16-byte aligned rows of every operand). */
export function vecMatMulSupported(spec: Pick<TiledMatMulSpec, 'transposeA' | 'M' | 'N' | 'K'>): boolean {
  return spec.K % 4 === 0 && spec.N % 4 === 0 && (!spec.transposeA || spec.M % 4 === 0);
}

/**
 * WGSL that loads this thread's share of one operand's K slice (rows rowBase.. of the 128-row tile,
 * K columns k0..k0+tileK) into registers `<reg>0..`: `kContiguous` when the operand is stored [R, K]
 * (A plain, B transposed), else [K, R].
 */
function loadSnippet(reg: string, rowBase: string, buf: string, rows: string, kContiguous: boolean, tileK: number, batchOff: string): string {
  const perThread = (VEC_TILE * tileK) / 4 / (THREADS * THREADS);
  const out: string[] = [];
  for (let r = 0; r < perThread; r++) {
    const e = `(tid + ${r * THREADS * THREADS})`;
    if (kContiguous) {
      const q = tileK / 4;
      out.push(`{ let row = ${e} / ${q}; let kq = (${e} % ${q}) * 4; let gr = ${rowBase} + row; let gk = k0 + kq;
        ${reg}${r} = select(vec4<f32>(0.0), ${buf}[(${batchOff} + gr * K + gk) / 4], gr < ${rows} && gk < K); }`);
    } else {
      out.push(`{ let kk = ${e} / 32; let rq = (${e} % 32) * 4; let gr = ${rowBase} + rq; let gk = k0 + kk;
        ${reg}${r} = select(vec4<f32>(0.0), ${buf}[(${batchOff} + gk * ${rows} + gr) / 4], gr < ${rows} && gk < K); }`);
    }
  }
  return out.join('\n');
}

/** WGSL that stores the registers of loadSnippet into workgroup slice `tile` at vec4 offset `base`. */
function storeSnippet(reg: string, tile: string, kContiguous: boolean, tileK: number): string {
  const perThread = (VEC_TILE * tileK) / 4 / (THREADS * THREADS);
  const out: string[] = [];
  for (let r = 0; r < perThread; r++) {
    const e = `(tid + ${r * THREADS * THREADS})`;
    if (kContiguous) {
      // a vec4 along k: four rows of the k-major slice, one float each
      const q = tileK / 4;
      out.push(`{ let row = ${e} / ${q}; let kq = (${e} % ${q}) * 4; let col = row / 4; let c = row % 4;
        ${[0, 1, 2, 3].map((j) => `${tile}[base + (kq + ${j}) * ${ROW_VEC4} + col][c] = ${reg}${r}[${j}];`).join(' ')} }`);
    } else {
      out.push(`{ let kk = ${e} / 32; let q = ${e} % 32; ${tile}[base + kk * ${ROW_VEC4} + q] = ${reg}${r}; }`);
    }
  }
  return out.join('\n');
}

/** Workgroup memory of the vec4 kernel: two buffers of A and B slices (BK 16: 32 KiB, BK 8: 16 KiB). */
export function vecMatMulWorkgroupBytes(tileK: 8 | 16): number {
  return 2 * 2 * tileK * ROW_VEC4 * 16;
}

/** The vec4 program (same spec and uniforms as tiledMatMulProgram); `tileK` 8 or 16. */
export function vecMatMulProgram(spec: TiledMatMulSpec, tileK: 8 | 16 = 16) {
  const { transposeA, transposeB, M, N, hasBias, activation } = spec;
  const batch = Math.max(spec.batchA, spec.batchB);
  const perThread = (VEC_TILE * tileK) / 4 / (THREADS * THREADS);
  const slice = tileK * ROW_VEC4; // vec4 per staged slice
  const aKContiguous = !transposeA; // A [M, K] plain, [K, M] transposed
  const bKContiguous = transposeB; // B [K, N] plain, [N, K] transposed
  const regs = (name: string) => Array.from({ length: perThread }, (_, r) => `var ${name}${r} : vec4<f32>;`).join(' ');
  const fmaStep: string[] = [];
  for (let kk = 0; kk < tileK; kk++) {
    fmaStep.push(`{ let a0 = tileA[base + ${kk * ROW_VEC4} + ty]; let a1 = tileA[base + ${kk * ROW_VEC4 + 16} + ty];
      let b0 = tileB[base + ${kk * ROW_VEC4} + tx]; let b1 = tileB[base + ${kk * ROW_VEC4 + 16} + tx];
      ${[0, 1, 2, 3].map((i) => `acc${2 * i} = fma(vec4<f32>(a0[${i}]), b0, acc${2 * i}); acc${2 * i + 1} = fma(vec4<f32>(a0[${i}]), b1, acc${2 * i + 1});`).join('\n      ')}
      ${[0, 1, 2, 3].map((i) => `acc${8 + 2 * i} = fma(vec4<f32>(a1[${i}]), b0, acc${8 + 2 * i}); acc${9 + 2 * i} = fma(vec4<f32>(a1[${i}]), b1, acc${9 + 2 * i});`).join('\n      ')} }`);
  }
  const epilogue: string[] = [];
  for (let r = 0; r < 8; r++) {
    const row = r < 4 ? `ty * 4 + ${r}` : `64 + ty * 4 + ${r - 4}`;
    for (let h = 0; h < 2; h++) {
      const col = `${h * 64} + tx * 4`;
      epilogue.push(`{ let m = rowBase_a + ${row}; let n = rowBase_b + ${col};
        if (m < M && n < N) {
          var v = acc${2 * r + h};
          ${hasBias ? 'v = v + vec4<f32>(Bias[n], Bias[n + 1], Bias[n + 2], Bias[n + 3]);' : ''}
          result[(batch * M * N + m * N + n) / 4] = vec4<f32>(act(v.x), act(v.y), act(v.z), act(v.w));
        } }`);
    }
  }
  const userCode = `
    var<workgroup> tileA : array<vec4<f32>, ${2 * slice}>;
    var<workgroup> tileB : array<vec4<f32>, ${2 * slice}>;

    fn act(x : f32) -> f32 { ${activationSnippet(activation)} }

    fn main() {
      let M = uniforms.outShape[1];
      let N = uniforms.outShape[2];
      let K = ${transposeA ? 'uniforms.aShape[1]' : 'uniforms.aShape[2]'};
      let tx = i32(localId.x);
      let ty = i32(localId.y);
      let tid = ty * ${THREADS} + tx;
      let rowBase_a = i32(workgroupId.y) * ${VEC_TILE};
      let rowBase_b = i32(workgroupId.x) * ${VEC_TILE};
      let batch = i32(workgroupId.z);
      let offA = select(batch, 0, uniforms.aShape[0] == 1) * M * K;
      let offB = select(batch, 0, uniforms.bShape[0] == 1) * N * K;
      ${Array.from({ length: 16 }, (_, i) => `var acc${i} = vec4<f32>(0.0);`).join(' ')}
      ${regs('ga')} ${regs('gb')}

      var k0 = 0;
      var base = 0;
      ${loadSnippet('ga', 'rowBase_a', 'A', 'M', aKContiguous, tileK, 'offA')}
      ${loadSnippet('gb', 'rowBase_b', 'B', 'N', bKContiguous, tileK, 'offB')}
      ${storeSnippet('ga', 'tileA', aKContiguous, tileK)}
      ${storeSnippet('gb', 'tileB', bKContiguous, tileK)}
      workgroupBarrier();
      let tiles = (K + ${tileK - 1}) / ${tileK};
      for (var t = 0; t < tiles; t++) {
        base = (t % 2) * ${slice};
        let more = t + 1 < tiles;
        if (more) {
          k0 = (t + 1) * ${tileK};
          ${loadSnippet('ga', 'rowBase_a', 'A', 'M', aKContiguous, tileK, 'offA')}
          ${loadSnippet('gb', 'rowBase_b', 'B', 'N', bKContiguous, tileK, 'offB')}
        }
        ${fmaStep.join('\n        ')}
        if (more) {
          base = ((t + 1) % 2) * ${slice};
          ${storeSnippet('ga', 'tileA', aKContiguous, tileK)}
          ${storeSnippet('gb', 'tileB', bKContiguous, tileK)}
        }
        workgroupBarrier();
      }
      ${epilogue.join('\n      ')}
    }`;
  return {
    variableNames: hasBias ? ['A', 'B', 'Bias'] : ['A', 'B'],
    variableComponents: hasBias ? [4, 4, 1] : [4, 4],
    outputComponent: 4,
    outputShape: [batch, M, N],
    shaderKey: `faeVecMatMul${tileK}_${transposeA}_${transposeB}_${hasBias}_${activation}`,
    dispatchLayout: { x: [2], y: [1], z: [0] },
    dispatch: [Math.ceil(N / VEC_TILE), Math.ceil(M / VEC_TILE), batch],
    workgroupSize: [THREADS, THREADS, 1] as [number, number, number],
    getUserCode: () => userCode,
  };
}

export type { FusedActivation };
