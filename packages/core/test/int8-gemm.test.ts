import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { describeBackends, expectNoLeaks, randomInt8 } from '@fae/testing';
import {
  INT8_QMAX, SUBGROUP_MATRIX_VARIANTS, int8MatMul, int8MatMulReference, packInt8Rows, packedWords, quantizeRows, quantizeRowsReference,
  readQuantizedRows, roundHalfEven, scalarGemmUserCode, subgroupMatrixGemmShader, unpackInt8Rows,
} from '@fae/core';

// The int8 GEMMs (webgpu/int8-gemm-wgsl.ts) and the per-row quantiser (int8-quantize-program.ts):
// the scalar dot4I8Packed kernel is checked EXACTLY against the integer reference here (software
// Vulkan in CI); the subgroup-matrix kernel needs a GPU with Dawn's subgroup matrices, so here its
// generated WGSL is checked for layout and spelling, and tools/bench/src/int8-bench.ts checks it
// exactly on the GPU machine.

/** A rows x k matrix of @fae/testing's randomInt8 values with one more -128 in the middle. */
function randomInt8Matrix(rows: number, k: number, seed: number): Int8Array {
  const v = randomInt8(rows * k, seed);
  if (v.length > 2) v[Math.floor(v.length / 2)] = -128;
  return v;
}

describe('int8 packing and references (pure JS)', () => {
  it('packs 4 signed bytes per word, little endian, zero-padded, and unpacks back', () => {
    const v = [1, -1, 127, -128, 5];
    const p = packInt8Rows(v, 1, 5);
    expect(p.length).toBe(2);
    expect(p[0]).toBe((1 | (0xff << 8) | (0x7f << 16) | (0x80 << 24)) | 0);
    expect(p[1]).toBe(5);
    const r = randomInt8Matrix(7, 13, 3);
    expect([...unpackInt8Rows(packInt8Rows(r, 7, 13), 7, 13)]).toEqual([...r]);
    expect(() => packInt8Rows([128], 1, 1)).toThrow(/not an int8/);
  });

  it('integer reference and round-half-even', () => {
    expect([...int8MatMulReference([1, 2, 3, 4], [5, 6], 2, 1, 2)]).toEqual([17, 39]);
    expect([roundHalfEven(0.5), roundHalfEven(1.5), roundHalfEven(-2.5), roundHalfEven(2.4)]).toEqual([0, 2, -2, 2]);
    const { q, scales } = quantizeRowsReference([0, 0, 2, -4], 2, 2);
    expect([...scales]).toEqual([1, 4 / INT8_QMAX]);
    expect([...q]).toEqual([0, 0, 64, -127]);
  });
});

describe('int8 subgroup-matrix GEMM: generated WGSL (its exactness is checked on the GPU by int8-bench)', () => {
  const spec = { epilogue: 'dequant' as const, hasBias: true, activation: 'gelu' as const };
  it('enables the extensions, declares i8 16x16x32 matrices and a workgroup of 8 subgroups of 32', () => {
    const code = subgroupMatrixGemmShader(spec, SUBGROUP_MATRIX_VARIANTS[0]);
    const lines = code.split('\n');
    expect(lines[0]).toBe('enable subgroups;');
    expect(lines[1]).toBe('enable chromium_experimental_subgroup_matrix;');
    expect(lines[2]).toBe('diagnostic(off, chromium.subgroup_matrix_uniformity);');
    expect(code).toContain('subgroup_matrix_left<i8, 32, 16>');
    expect(code).toContain('subgroup_matrix_right<i8, 16, 32>');
    expect(code).toContain('subgroup_matrix_result<i32, 16, 16>()');
    expect(code).toMatch(/@compute @workgroup_size\(256, 1, 1\)/);
    // 2 x 4 accumulators per subgroup, 8 multiply-accumulates per 32-deep step
    expect(code.match(/subgroupMatrixMultiplyAccumulate/g)).toHaveLength(8);
    // bindings: result, A, B, Bias, uniforms
    expect(code).toMatch(/@binding\(3\) var<storage, read> Bias : array<f32>/);
    expect(code).toMatch(/@binding\(4\) var<uniform> uniforms/);
    // workgroup memory: two tiles of 128 (+1 spare) rows of 20 words and 8 x 256 words of scratch: 28.2 KiB (< 32 KiB)
    const words = [...code.matchAll(/var<workgroup> \w+ : array<i32, (\d+)>/g)].reduce((s, m) => s + Number(m[1]), 0);
    expect(words * 4).toBe(28832);
    // K 128 deep per step (kWords 32): rows of 36 words, 44.3 KiB (fits 48 KiB devices such as the H100)
    const deep = subgroupMatrixGemmShader(spec, SUBGROUP_MATRIX_VARIANTS[0], 32);
    const deepWords = [...deep.matchAll(/var<workgroup> \w+ : array<i32, (\d+)>/g)].reduce((s, m) => s + Number(m[1]), 0);
    expect(deepWords * 4).toBe(45344);
    expect(deep).toContain('for (var kk = 0u; kk < 32u; kk += 8u)');
    expect(deep).toContain('(u32(sgM * 32 + 16) * 36u + kk) * 1u, 36u)');
  });

  it('spells loads and stores per variant: template majorness vs bool argument, word vs byte units', () => {
    const [tw, lw, tb] = [SUBGROUP_MATRIX_VARIANTS[0], SUBGROUP_MATRIX_VARIANTS[1], SUBGROUP_MATRIX_VARIANTS[2]];
    const t = subgroupMatrixGemmShader(spec, tw);
    expect(t).toContain('subgroupMatrixLoad<subgroup_matrix_left<i8, 32, 16>, row_major>(&tileA, (u32(sgM * 32 + 0) * 20u + kk) * 1u, 20u)');
    expect(t).toContain('subgroupMatrixLoad<subgroup_matrix_right<i8, 16, 32>, col_major>(&tileB, (u32(sgN * 64 + 48) * 20u + kk) * 1u, 20u)');
    expect(t).toContain('subgroupMatrixStore<row_major>(&scratch, mine, acc13, 16u)');
    const l = subgroupMatrixGemmShader(spec, lw);
    expect(l).toContain('subgroupMatrixLoad<subgroup_matrix_left<i8, 32, 16>>(&tileA, (u32(sgM * 32 + 16) * 20u + kk) * 1u, false, 20u)');
    expect(l).toContain('subgroupMatrixLoad<subgroup_matrix_right<i8, 16, 32>>(&tileB, (u32(sgN * 64 + 0) * 20u + kk) * 1u, true, 20u)');
    expect(l).toContain('subgroupMatrixStore(&scratch, mine, acc00, false, 16u)');
    const b = subgroupMatrixGemmShader(spec, tb);
    expect(b).toContain('(u32(sgM * 32 + 0) * 20u + kk) * 4u, 80u)');
    // the i32 result matrices are stored in i32 units whatever the i8 unit
    expect(b).toContain('subgroupMatrixStore<row_major>(&scratch, mine, acc00, 16u)');
  });

  it('epilogues: int32 writes the accumulators; dequant scales by both row scales, adds the bias, applies the activation', () => {
    const raw = subgroupMatrixGemmShader({ epilogue: 'int32', hasBias: false, activation: 'linear' }, SUBGROUP_MATRIX_VARIANTS[0]);
    expect(raw).toContain('var<storage, read_write> result : array<i32>');
    expect(raw).toContain('result[m * N + n] = scratch[i32(mine) + e];');
    expect(raw).not.toContain('Bias');
    const deq = subgroupMatrixGemmShader(spec, SUBGROUP_MATRIX_VARIANTS[0]);
    expect(deq).toContain('var<storage, read_write> result : array<f32>');
    expect(deq).toContain('act(f32(scratch[i32(mine) + e]) * bitcast<f32>(A[M * KW + m]) * bitcast<f32>(B[N * KW + n]) + Bias[n])');
    expect(deq).toContain('fn act(x : f32) -> f32 { let z = abs(x) * 0.7071067811865476;');
    // the scalar kernel shares the staging code and the epilogue
    expect(scalarGemmUserCode(spec)).toContain('dot4I8Packed(a0, b0)');
    expect(scalarGemmUserCode(spec)).toContain('bitcast<f32>(A[M * KW + m]) * bitcast<f32>(B[N * KW + n]) + Bias[n]');
  });
});

describeBackends('int8 on WebGPU: scalar GEMM and per-row quantisation', () => {
  // [M, N, K]: single element, K < 4, ragged tiles (64-wide) with K % 4 != 0 and several 32-deep steps
  const shapes: Array<[number, number, number]> = [[1, 1, 1], [5, 3, 7], [70, 65, 33], [130, 67, 129], [64, 128, 256]];
  for (const [m, n, k] of shapes) {
    it(`scalar int8 GEMM is exact against the integer reference: [${m}, ${k}] x [${n}, ${k}]^T`, async () => {
      const av = randomInt8Matrix(m, k, m * 31 + k);
      const bv = randomInt8Matrix(n, k, n * 17 + k + 1);
      const a = tf.tensor1d(packInt8Rows(av, m, k), 'int32');
      const b = tf.tensor1d(packInt8Rows(bv, n, k), 'int32');
      const c = await expectNoLeaks(() => int8MatMul(a, b, m, n, k, { kernel: 'scalar', epilogue: 'int32' }), 'int8MatMul');
      expect(c.shape).toEqual([m, n]);
      expect(c.dtype).toBe('int32');
      expect([...(await c.data())]).toEqual([...int8MatMulReference(av, bv, m, n, k)]);
      tf.dispose([a, b, c]);
    });
  }

  it('quantizeRows matches the float64 quantiser (scales, ints, zero padding, an all-zero row)', async () => {
    const rows = 9;
    const k = 37; // 10 words, the last with 3 padding bytes
    const x = new Float32Array(rows * k);
    for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 1.37) * (1 + (i % 7)) * 0.3;
    x.fill(0, 4 * k, 5 * k); // row 4 all zero
    const xt = tf.tensor2d(x, [rows, k]);
    const packed = await expectNoLeaks(() => quantizeRows(xt), 'quantizeRows');
    expect(packed.shape).toEqual([rows * packedWords(k) + rows]);
    const { q, scales } = await readQuantizedRows(packed, rows, k);
    const ref = quantizeRowsReference(x, rows, k);
    for (let r = 0; r < rows; r++) expect(Math.abs(scales[r] - ref.scales[r]) / ref.scales[r]).toBeLessThan(1e-6);
    expect(scales[4]).toBe(1);
    let off = 0;
    for (let i = 0; i < q.length; i++) {
      expect(Math.abs(q[i] - ref.q[i])).toBeLessThanOrEqual(1); // f32 division may round a tie the other way
      if (q[i] !== ref.q[i]) off++;
    }
    expect(off).toBeLessThanOrEqual(2);
    expect(Math.max(...q.map(Math.abs))).toBe(INT8_QMAX);
    const words = (await packed.data()) as Int32Array;
    for (let r = 0; r < rows; r++) expect(words[r * packedWords(k) + 9] >>> 8).toBe(0); // padding bytes
    tf.dispose([xt, packed]);
  });

  it('dequant epilogue (bias + gelu) matches float64 of the same int8 values and scales', async () => {
    const [m, n, k] = [33, 70, 45];
    const xa = tf.randomNormal([m, k], 0, 1, 'float32', 1);
    const wb = tf.randomNormal([n, k], 0, 0.2, 'float32', 2);
    const bias = tf.randomNormal([n], 0, 0.5, 'float32', 3);
    const [qa, qb] = [quantizeRows(xa), quantizeRows(wb)];
    const y = await expectNoLeaks(() => int8MatMul(qa, qb, m, n, k, { kernel: 'scalar', bias, activation: 'gelu' }), 'int8MatMul dequant');
    const A = await readQuantizedRows(qa, m, k);
    const B = await readQuantizedRows(qb, n, k);
    const acc = int8MatMulReference(A.q, B.q, m, n, k);
    const bv = await bias.data();
    const erf = (z: number) => { // Abramowitz-Stegun 7.1.26 is too coarse; series for |z| small, asymptotic otherwise
      let s = 0, t = z, i = 0;
      if (Math.abs(z) > 5) return Math.sign(z);
      while (Math.abs(t) > 1e-17 && i < 200) { s += t / (2 * i + 1); i++; t *= (-z * z) / i; }
      return (2 / Math.sqrt(Math.PI)) * s;
    };
    const got = await y.data();
    let worst = 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        const prod = acc[i * n + j] * A.scales[i] * B.scales[j];
        const v = prod + bv[j];
        const want = 0.5 * v * (1 + erf(v / Math.SQRT2));
        // relative to the terms summed (v near 0 cancels), f32 rounding of the product and the bias
        worst = Math.max(worst, Math.abs(got[i * n + j] - want) / (Math.abs(prod) + Math.abs(bv[j])));
      }
    }
    expect(worst).toBeLessThan(1e-5);
    tf.dispose([xa, wb, bias, qa, qb, y]);
  });

  it('the subgroup-matrix shader, its matrix builtins replaced by plain stubs, compiles here (both spellings)', async () => {
    // Everything but the experimental builtins (bindings, uniforms, staging, epilogue, the u32/i32
    // types of offsets and strides) is checked by this device's WGSL compiler.
    const device = (tf.backend() as unknown as { device: { createShaderModule: (d: { code: string }) => { getCompilationInfo: () => Promise<{ messages: Array<{ type: string; message: string; lineNum: number }> }> } } }).device;
    const stubs = `
      struct Frag { v : i32 }
      fn stubLoad_tileA(off : u32, stride : u32) -> Frag { return Frag(tileA[off + stride]); }
      fn stubLoad_tileB(off : u32, stride : u32) -> Frag { return Frag(tileB[off + stride]); }
      fn stubMma(a : Frag, b : Frag, c : Frag) -> Frag { return Frag(a.v * b.v + c.v); }
      fn stubStore(off : u32, v : Frag, stride : u32) { scratch[off + stride] = v.v; }`;
    const cases = [
      { epilogue: 'int32' as const, hasBias: false, activation: 'linear' as const, kWords: 16 as const },
      { epilogue: 'dequant' as const, hasBias: true, activation: 'silu' as const, kWords: 32 as const },
    ];
    for (const variant of SUBGROUP_MATRIX_VARIANTS.slice(0, 2)) {
      for (const { kWords, ...spec } of cases) {
        let code = subgroupMatrixGemmShader(spec, variant, kWords).split('\n').slice(3).join('\n');
        code = code
          .replace(/subgroup_matrix_result<i32, 16, 16>\(\)/g, 'Frag(0)')
          .replace(/subgroupMatrixLoad<[^(]*>\(&(\w+), ([^,]+), (?:(?:true|false), )?(\d+u)\)/g, 'stubLoad_$1($2, $3)')
          .replace(/subgroupMatrixStore(?:<row_major>)?\(&scratch, mine, (\w+), (?:false, )?16u\)/g, 'stubStore(mine, $1, 16u)')
          .replace(/subgroupMatrixMultiplyAccumulate/g, 'stubMma');
        expect(code).not.toMatch(/subgroup_?[mM]atrix/);
        const info = await device.createShaderModule({ code: code + stubs }).getCompilationInfo();
        const errors = info.messages.filter((m) => m.type === 'error');
        expect(errors.map((m) => `${variant.syntax} ${spec.epilogue} line ${m.lineNum}: ${m.message}`)).toEqual([]);
      }
    }
  });

  it('refuses bad inputs with typed errors', () => {
    const a = tf.zeros([4], 'int32');
    expect(() => int8MatMul(a, a, 3, 2, 8, { kernel: 'scalar', epilogue: 'int32' })).toThrow(/int8MatMul\(a\): expected int32 with 6 words/);
    expect(() => int8MatMul(a, a, 2, 2, 8, { kernel: 'scalar' })).toThrow(/expected int32 with 6 words \(\[2, 8\] packed \+ scales\)/);
    expect(() => quantizeRows(tf.zeros([2, 2, 2]))).toThrow(/float32 \[R, K\]/);
    a.dispose();
  });
}, { backends: ['webgpu'] });
