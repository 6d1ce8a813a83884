// WGSL of the int8 GEMMs: C[m, n] = sum_k A[m, k] B[n, k] over int8 rows packed 4 to a word
// (int8-quantize-program.ts's layout: A [M * KW (+ M scales)], B [N * KW (+ N scales)], KW = ceil(K/4);
// B is the weight transposed, one row per output channel). Two kernels, one tiling:
//   - `subgroup-matrix`: tensor cores through Dawn's chromium_experimental_subgroup_matrix (i8 x i8
//     -> i32, 16x16x32). A 128 x 128 output tile per workgroup of 8 subgroups of 32 (4 along M x 2
//     along N), each subgroup 32 x 64 = 2 x 4 result matrices; K staged 64 deep (16 words) per step.
//   - `scalar`: the same staging with a 64 x 64 tile, 16 x 16 invocations of 4 x 4 outputs each,
//     dot4I8Packed on words. Runs everywhere (software Vulkan in CI) and checks the same layout.
// Both stage A and B tiles through workgroup memory with bounds-checked, zero-filled loads, so any
// M, N and K (ragged edges, K % 4 != 0) are exact. Epilogue: 'int32' writes the accumulators;
// 'dequant' writes f32(acc) * scaleA[m] * scaleB[n] (+ bias[n]), then the activation.
import { activationSnippet, type FusedActivation } from './matmul-tiled.js';

export type Int8Epilogue = 'int32' | 'dequant';

/** `n` copies of `f(i)`, joined: unrolled code with named registers. */
const rep = (n: number, f: (i: number) => string, sep = '\n') => Array.from({ length: n }, (_, i) => f(i)).join(sep);

/** How this Dawn spells subgroup-matrix loads/stores, and the unit of offsets/strides of i8 matrices in i32 arrays. */
export interface SubgroupMatrixVariant {
  /** 'template': subgroupMatrixLoad<T, row_major>(p, offset, stride); 'legacy': subgroupMatrixLoad<T>(p, offset, col_major, stride). */
  syntax: 'template' | 'legacy';
  /** 'words': offsets and strides of i8 matrices count i32 array elements (4 values); 'bytes': they count i8 values. */
  unit: 'words' | 'bytes';
}

/** The variants tried in order by the probe (int8-device.ts). */
export const SUBGROUP_MATRIX_VARIANTS: readonly SubgroupMatrixVariant[] = [
  { syntax: 'template', unit: 'words' },
  { syntax: 'legacy', unit: 'words' },
  { syntax: 'template', unit: 'bytes' },
  { syntax: 'legacy', unit: 'bytes' },
];

export interface Int8GemmSpec {
  epilogue: Int8Epilogue;
  hasBias: boolean;
  activation: FusedActivation;
}

// ---------------------------------------------------------------- shared staging
/**
 * WGSL statements staging rows [base, base + rows) x words [kw0, kw0 + tileWords) of packed matrix
 * `src` (rows of KW words, `limit` rows) into workgroup array `dst` with row stride `stride` words,
 * zero outside; `threads` invocations, `tid` this one. Consecutive invocations read consecutive words.
 */
export function stageTile(src: string, dst: string, rows: number, tileWords: number, stride: number, threads: number, base: string, limit: string): string {
  const per = (rows * tileWords) / threads;
  if (!Number.isInteger(per)) throw new Error(`stageTile: ${rows} x ${tileWords} words do not split over ${threads} invocations`);
  return `for (var r = 0; r < ${per}; r++) {
          let e = tid + r * ${threads};
          let row = e / ${tileWords};
          let w = e % ${tileWords};
          let gr = ${base} + row;
          let gw = kw0 + w;
          var v = 0;
          if (gr < ${limit} && gw < KW) { v = ${src}[gr * KW + gw]; }
          ${dst}[row * ${stride} + w] = v;
        }`;
}

/**
 * The same staging split in two for register prefetch: `prefetchTile` loads this invocation's words
 * of the tile at word `kwExpr` into registers `${reg}0..` (zero outside), `storePrefetched` writes
 * them to workgroup memory. Issued before the tile in workgroup memory is multiplied, the global
 * loads of the next tile overlap that work.
 */
export function prefetchTile(src: string, reg: string, rows: number, tileWords: number, threads: number, base: string, limit: string, kwExpr: string): string {
  return rep((rows * tileWords) / threads, (r) => `{
          let e = tid + ${r * threads};
          let gr = ${base} + e / ${tileWords};
          let gw = ${kwExpr} + e % ${tileWords};
          ${reg}${r} = 0;
          if (gr < ${limit} && gw < KW) { ${reg}${r} = ${src}[gr * KW + gw]; }
        }`);
}

export function storePrefetched(dst: string, reg: string, rows: number, tileWords: number, stride: number, threads: number): string {
  return rep((rows * tileWords) / threads, (r) => `{ let e = tid + ${r * threads}; ${dst}[(e / ${tileWords}) * ${stride} + e % ${tileWords}] = ${reg}${r}; }`);
}

/** WGSL: out-of-tile value v at (m, n) through the epilogue, as the result array's type. */
function epilogueExpr(spec: Int8GemmSpec, acc: string): string {
  if (spec.epilogue === 'int32') return acc;
  return `act(f32(${acc}) * bitcast<f32>(A[M * KW + m]) * bitcast<f32>(B[N * KW + n])${spec.hasBias ? ' + Bias[n]' : ''})`;
}

function actFn(spec: Int8GemmSpec): string {
  return spec.epilogue === 'dequant' ? `fn act(x : f32) -> f32 { ${activationSnippet(spec.activation)} }` : '';
}

// ---------------------------------------------------------------- scalar kernel (tfjs program body)
export const SCALAR_TILE = 64;
const SCALAR_THREADS = 16; // per side
const SCALAR_WORDS = 8; // K staged 32 deep
const SCALAR_PER = SCALAR_TILE / SCALAR_THREADS; // 4 x 4 outputs per invocation


/** The scalar kernel's `main` for tfjs's runWebGPUProgram (A, B[, Bias] bound by tfjs; uniforms M, N, KW). */
export function scalarGemmUserCode(spec: Int8GemmSpec): string {
  const T = SCALAR_TILE;
  const W = SCALAR_WORDS;
  const P = SCALAR_PER;
  const cells = (f: (i: number, j: number) => string) => rep(P, (i) => rep(P, (j) => f(i, j)));
  return `
    var<workgroup> tileA : array<i32, ${T * W}>;
    var<workgroup> tileB : array<i32, ${T * W}>;
    ${actFn(spec)}

    fn main() {
      let M = uniforms.M;
      let N = uniforms.N;
      let KW = uniforms.KW;
      let tx = i32(localId.x);
      let ty = i32(localId.y);
      let tid = ty * ${SCALAR_THREADS} + tx;
      let rowBase = i32(workgroupId.y) * ${T};
      let colBase = i32(workgroupId.x) * ${T};
      ${cells((i, j) => `var acc${i}${j} = 0;`)}
      for (var kw0 = 0; kw0 < KW; kw0 += ${W}) {
        ${stageTile('A', 'tileA', T, W, W, SCALAR_THREADS * SCALAR_THREADS, 'rowBase', 'M')}
        ${stageTile('B', 'tileB', T, W, W, SCALAR_THREADS * SCALAR_THREADS, 'colBase', 'N')}
        workgroupBarrier();
        for (var w = 0; w < ${W}; w++) {
          ${rep(P, (i) => `let a${i} = bitcast<u32>(tileA[(ty + ${SCALAR_THREADS * i}) * ${W} + w]);`)}
          ${rep(P, (j) => `let b${j} = bitcast<u32>(tileB[(tx + ${SCALAR_THREADS * j}) * ${W} + w]);`)}
          ${cells((i, j) => `acc${i}${j} = acc${i}${j} + dot4I8Packed(a${i}, b${j});`)}
        }
        workgroupBarrier();
      }
      ${cells((i, j) => `{
        let m = rowBase + ty + ${SCALAR_THREADS * i};
        let n = colBase + tx + ${SCALAR_THREADS * j};
        if (m < M && n < N) { result[m * N + n] = ${epilogueExpr(spec, `acc${i}${j}`)}; }
      }`)}
    }`;
}

// ---------------------------------------------------------------- subgroup-matrix kernel (whole shader)
export const SG_TILE = 128;
export const SG_THREADS = 256; // 8 subgroups of 32
const SG_SUBGROUP = 32;
/** K depth staged per step, in words: 16 (64 values, 28 KiB of workgroup memory) or 32 (128 values, 44 KiB). */
export type SubgroupMatrixKWords = 16 | 32;
const SG_M = 4; // subgroups along M (32 rows each)
const SG_N = 2; // subgroups along N (64 columns each)
const FRAG_M = 2; // 16-row left matrices per subgroup
const FRAG_N = 4; // 16-column right matrices per subgroup

/**
 * The subgroup-matrix GEMM as a complete WGSL module (bindings: 0 result, 1 A, 2 B, [3 Bias], then
 * uniforms M, N, KW); `kWords`: K staged per step (words of 4 values); `prefetch`: the next tile's
 * global loads go to registers before the current tile is multiplied (prefetchTile).
 */
export function subgroupMatrixGemmShader(spec: Int8GemmSpec, v: SubgroupMatrixVariant, kWords: SubgroupMatrixKWords = 16, prefetch = false): string {
  const SG_WORDS = kWords;
  const SG_STRIDE = kWords + 4; // padded row of a staged tile, in words (a multiple of 16 bytes)
  const PER = (SG_TILE * SG_WORDS) / SG_THREADS; // words of each tile staged per invocation
  const u = v.unit === 'bytes' ? 4 : 1; // multiplier of word offsets/strides
  const left = 'subgroup_matrix_left<i8, 32, 16>';
  const right = 'subgroup_matrix_right<i8, 16, 32>';
  const resT = 'subgroup_matrix_result<i32, 16, 16>';
  const load = (t: string, arr: string, off: string, colMajor: boolean, stride: number) =>
    v.syntax === 'template'
      ? `subgroupMatrixLoad<${t}, ${colMajor ? 'col_major' : 'row_major'}>(&${arr}, ${off}, ${stride}u)`
      : `subgroupMatrixLoad<${t}>(&${arr}, ${off}, ${colMajor}, ${stride}u)`;
  const store = (arr: string, off: string, val: string, stride: number) =>
    v.syntax === 'template' ? `subgroupMatrixStore<row_major>(&${arr}, ${off}, ${val}, ${stride}u)` : `subgroupMatrixStore(&${arr}, ${off}, ${val}, false, ${stride}u)`;
  const outType = spec.epilogue === 'int32' ? 'i32' : 'f32';
  const frags = (f: (i: number, j: number) => string) => rep(FRAG_M, (i) => rep(FRAG_N, (j) => f(i, j)));
  return `enable subgroups;
enable chromium_experimental_subgroup_matrix;
diagnostic(off, chromium.subgroup_matrix_uniformity);

struct Uniforms { M : i32, N : i32, KW : i32, };
@group(0) @binding(0) var<storage, read_write> result : array<${outType}>;
@group(0) @binding(1) var<storage, read> A : array<i32>;
@group(0) @binding(2) var<storage, read> B : array<i32>;
${spec.hasBias ? '@group(0) @binding(3) var<storage, read> Bias : array<f32>;' : ''}
@group(0) @binding(${spec.hasBias ? 4 : 3}) var<uniform> uniforms : Uniforms;

// One spare row: a bounds check of offset + stride * rows (the last 16-row block at kk = 8) stays inside.
var<workgroup> tileA : array<i32, ${(SG_TILE + 1) * SG_STRIDE}>;
var<workgroup> tileB : array<i32, ${(SG_TILE + 1) * SG_STRIDE}>;
var<workgroup> scratch : array<i32, ${(SG_THREADS / SG_SUBGROUP) * 256}>;
${actFn(spec)}

@compute @workgroup_size(${SG_THREADS}, 1, 1)
fn main(@builtin(local_invocation_index) lidx : u32, @builtin(workgroup_id) wgid : vec3<u32>) {
  let M = uniforms.M;
  let N = uniforms.N;
  let KW = uniforms.KW;
  let tid = i32(lidx);
  let sg = tid / ${SG_SUBGROUP};
  let lane = tid % ${SG_SUBGROUP};
  let sgM = sg % ${SG_M};
  let sgN = sg / ${SG_M};
  let rowBase = i32(wgid.y) * ${SG_TILE};
  let colBase = i32(wgid.x) * ${SG_TILE};
  ${frags((i, j) => `var acc${i}${j} = ${resT}();`)}
  ${prefetch ? `${rep(PER, (r) => `var pa${r} = 0;
  var pb${r} = 0;`)}
  {
    let kwNext = 0;
    ${prefetchTile('A', 'pa', SG_TILE, SG_WORDS, SG_THREADS, 'rowBase', 'M', 'kwNext')}
    ${prefetchTile('B', 'pb', SG_TILE, SG_WORDS, SG_THREADS, 'colBase', 'N', 'kwNext')}
  }` : ''}
  for (var kw0 = 0; kw0 < KW; kw0 += ${SG_WORDS}) {
    ${prefetch ? `${storePrefetched('tileA', 'pa', SG_TILE, SG_WORDS, SG_STRIDE, SG_THREADS)}
    ${storePrefetched('tileB', 'pb', SG_TILE, SG_WORDS, SG_STRIDE, SG_THREADS)}
    workgroupBarrier();
    {
      let kwNext = kw0 + ${SG_WORDS}; // past KW: the bounds check loads zeros
      ${prefetchTile('A', 'pa', SG_TILE, SG_WORDS, SG_THREADS, 'rowBase', 'M', 'kwNext')}
      ${prefetchTile('B', 'pb', SG_TILE, SG_WORDS, SG_THREADS, 'colBase', 'N', 'kwNext')}
    }` : `${stageTile('A', 'tileA', SG_TILE, SG_WORDS, SG_STRIDE, SG_THREADS, 'rowBase', 'M')}
    ${stageTile('B', 'tileB', SG_TILE, SG_WORDS, SG_STRIDE, SG_THREADS, 'colBase', 'N')}
    workgroupBarrier();`}
    for (var kk = 0u; kk < ${SG_WORDS}u; kk += 8u) {
      ${rep(FRAG_M, (i) => `let a${i} = ${load(left, 'tileA', `(u32(sgM * 32 + ${16 * i}) * ${SG_STRIDE}u + kk) * ${u}u`, false, SG_STRIDE * u)};`)}
      ${rep(FRAG_N, (j) => `let b${j} = ${load(right, 'tileB', `(u32(sgN * 64 + ${16 * j}) * ${SG_STRIDE}u + kk) * ${u}u`, true, SG_STRIDE * u)};`)}
      ${frags((i, j) => `acc${i}${j} = subgroupMatrixMultiplyAccumulate(a${i}, b${j}, acc${i}${j});`)}
    }
    workgroupBarrier();
  }
  // Each subgroup writes its 16 x 16 results one at a time through its slice of scratch.
  let mine = u32(sg) * 256u;
  ${frags((i, j) => `${store('scratch', 'mine', `acc${i}${j}`, 16)};
  workgroupBarrier();
  for (var e = lane; e < 256; e += ${SG_SUBGROUP}) {
    let m = rowBase + sgM * 32 + ${16 * i} + e / 16;
    let n = colBase + sgN * 64 + ${16 * j} + e % 16;
    if (m < M && n < N) { result[m * N + n] = ${epilogueExpr(spec, 'scratch[i32(mine) + e]')}; }
  }
  workgroupBarrier();`)}
}
`;
}

/** Workgroups of the subgroup-matrix kernel for an [M, N] output. */
export function subgroupMatrixDispatch(m: number, n: number): [number, number, number] {
  return [Math.ceil(n / SG_TILE), Math.ceil(m / SG_TILE), 1];
}
