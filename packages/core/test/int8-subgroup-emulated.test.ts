import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { describeBackends, randomInt8 } from '@fae/testing';
import { SUBGROUP_MATRIX_VARIANTS, int8MatMulReference, packInt8Rows, subgroupMatrixGemmShader, type SubgroupMatrixVariant } from '@fae/core';
import { compileRawPipeline, dispatchRaw } from '../src/webgpu/int8-dispatch.js';
import { subgroupMatrixDispatch } from '../src/webgpu/int8-gemm-wgsl.js';

// The subgroup-matrix GEMM's own code (staging, register prefetch, fragment offsets and strides,
// result scratch, epilogue) run on software Vulkan, which has no subgroup matrices: the four matrix
// builtins are replaced by an emulation in plain WGSL that keeps the documented semantics (offsets
// and strides of i8 matrices in i32 words, left row-major, right column-major, results row-major;
// each lane of a 32-wide subgroup owns elements lane + 32 t of a 16 x 16 result), so the GEMM's
// indexing is checked EXACTLY against the integer reference here. The real builtins are checked on
// the GPU machine by tools/bench/src/int8-bench.ts.

const EMULATION = `
var<private> emuLane : i32;
struct Frag { off : u32, stride : u32 }
struct Acc { v0 : i32, v1 : i32, v2 : i32, v3 : i32, v4 : i32, v5 : i32, v6 : i32, v7 : i32 }
fn emuLoadA(off : u32, stride : u32) -> Frag { return Frag(off, stride); }
fn emuLoadB(off : u32, stride : u32) -> Frag { return Frag(off, stride); }
fn byteOf(w : i32, k : u32) -> i32 { return (w << (24u - 8u * (k % 4u))) >> 24u; }
// (A B)[row, col] over one 32-deep fragment: A row-major in tileA, B column-major in tileB
fn emuDot(a : Frag, b : Frag, e : u32) -> i32 {
  let row = e / 16u;
  let col = e % 16u;
  var s = 0;
  for (var k = 0u; k < 32u; k++) {
    s += byteOf(tileA[a.off + row * a.stride + k / 4u], k) * byteOf(tileB[b.off + col * b.stride + k / 4u], k);
  }
  return s;
}
fn emuMma(a : Frag, b : Frag, c : Acc) -> Acc {
  let l = u32(emuLane);
  return Acc(${Array.from({ length: 8 }, (_, t) => `c.v${t} + emuDot(a, b, l + ${32 * t}u)`).join(', ')});
}
fn emuStore(off : u32, v : Acc, stride : u32) {
  let l = u32(emuLane);
  ${Array.from({ length: 8 }, (_, t) => `scratch[off + ((l + ${32 * t}u) / 16u) * stride + (l + ${32 * t}u) % 16u] = v.v${t};`).join('\n  ')}
}`;

function emulated(code: string): string {
  const body = code.split('\n').slice(3).join('\n') // the enable / diagnostic directives
    .replace(/subgroup_matrix_result<i32, 16, 16>\(\)/g, 'Acc()')
    .replace(/subgroupMatrixLoad<[^(]*>\(&tileA, ([^,]+), (?:(?:true|false), )?(\d+u)\)/g, 'emuLoadA($1, $2)')
    .replace(/subgroupMatrixLoad<[^(]*>\(&tileB, ([^,]+), (?:(?:true|false), )?(\d+u)\)/g, 'emuLoadB($1, $2)')
    .replace(/subgroupMatrixStore(?:<row_major>)?\(&scratch, mine, (\w+), (?:false, )?16u\)/g, 'emuStore(mine, $1, 16u)')
    .replace(/subgroupMatrixMultiplyAccumulate\(/g, 'emuMma(')
    .replace('let lane = tid % 32;', 'let lane = tid % 32;\n  emuLane = lane;');
  if (/subgroup_?[mM]atrix/.test(body) || !body.includes('emuLane = lane;')) throw new Error('emulation did not replace every subgroup-matrix builtin');
  return body + EMULATION;
}

async function runEmulated(variant: SubgroupMatrixVariant, kWords: 16 | 32, prefetch: boolean, m: number, n: number, k: number): Promise<{ got: Int32Array; want: Int32Array }> {
  const backend = tf.backend();
  const code = emulated(subgroupMatrixGemmShader({ epilogue: 'int32', hasBias: false, activation: 'linear' }, variant, kWords, prefetch));
  const key = `emulatedInt8SgGemm_${variant.syntax}_${kWords}_${prefetch}`;
  await compileRawPipeline(backend, key, code);
  const av = randomInt8(m * k, m + 3 * k);
  const bv = randomInt8(n * k, n + 5 * k);
  const a = tf.tensor1d(packInt8Rows(av, m, k), 'int32');
  const b = tf.tensor1d(packInt8Rows(bv, n, k), 'int32');
  const info = dispatchRaw(backend, { key, code, inputs: [a, b], outputShape: [m, n], outputDtype: 'int32', uniforms: [m, n, Math.ceil(k / 4)], workgroups: subgroupMatrixDispatch(m, n) });
  const c = tf.engine().makeTensorFromTensorInfo(info);
  const got = (await c.data()) as Int32Array;
  tf.dispose([a, b, c]);
  return { got, want: int8MatMulReference(av, bv, m, n, k) };
}

describeBackends('int8 subgroup-matrix GEMM with its matrix builtins emulated: exact', () => {
  const template = SUBGROUP_MATRIX_VARIANTS.find((v) => v.syntax === 'template' && v.unit === 'words')!;
  const legacy = SUBGROUP_MATRIX_VARIANTS.find((v) => v.syntax === 'legacy' && v.unit === 'words')!;
  const cases: Array<[SubgroupMatrixVariant, 16 | 32, boolean]> = [[template, 16, false], [template, 16, true], [legacy, 16, false], [template, 32, true]];
  for (const [variant, kWords, prefetch] of cases) {
    it(`${variant.syntax} spelling, K ${4 * kWords} per step, prefetch ${prefetch ? 'on' : 'off'}: ragged shapes match the integer reference`, async () => {
      const limit = (tf.backend() as unknown as { device: { limits: { maxComputeWorkgroupStorageSize: number } } }).device.limits.maxComputeWorkgroupStorageSize;
      if (kWords === 32 && limit < 45344) {
        // 44.3 KiB of workgroup memory: more than this device allows (software Vulkan: 32 KiB); the
        // pipeline is refused with the reason, before anything is queued
        await expect(runEmulated(variant, kWords, prefetch, 16, 16, 32)).rejects.toThrow(/workgroup storage \(45344 bytes\)/);
        return;
      }
      // one partial 128-tile; two ragged tiles each way with K % 4 != 0 and several steps
      for (const [m, n, k] of [[16, 16, 32], [150, 133, 301]] as Array<[number, number, number]>) {
        const { got, want } = await runEmulated(variant, kWords, prefetch, m, n, k);
        let bad = 0;
        for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) bad++;
        expect(bad, `[${m}, ${k}] x [${n}, ${k}]`).toBe(0);
      }
    });
  }
}, { backends: ['webgpu'] });
