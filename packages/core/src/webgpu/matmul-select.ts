// Which matmul program FAE's WebGPU kernels build for a product: the vec4 double-buffered kernel
// (matmul-vec4.ts) where its 16-byte alignment holds, else the scalar tiled kernel (matmul-tiled.ts).
// configureFaeWebGPUKernels({ matmul, vec4TileK }) sets the choice (benchmarks compare both).
import { tiledMatMulProgram, type TiledMatMulSpec } from './matmul-tiled.js';
import { vecMatMulProgram, vecMatMulSupported, vecMatMulWorkgroupBytes } from './matmul-vec4.js';

export type MatMulKernel = 'vec4' | 'scalar';

// Default 'vec4': on an H100 (BENCHMARKS.md, issue #18, same call, per-kernel GPU time) it beat the
// scalar kernel on every workload: DINOv2-B encode 83.6 vs 93.0 ms of GPU, FAE decode 136.7 vs 161.0,
// the LightningDiT-XL step 1556 vs 1718, matmul 4096^3 4.7 vs 5.6. Same summation order, same bits.
const choice: { matmul: MatMulKernel; vec4TileK: 8 | 16 } = { matmul: 'vec4', vec4TileK: 16 };

export function setMatMulChoice(c: Partial<typeof choice>): void {
  Object.assign(choice, c);
}

export function matMulChoice(): { matmul: MatMulKernel; vec4TileK: 8 | 16 } {
  return { ...choice };
}

/**
 * The program for one product; both take the same inputs and uniforms ([batch, rows, cols] views).
 * `maxWorkgroupBytes`: the device's maxComputeWorkgroupStorageSize (BK 16 needs 32 KiB; else BK 8).
 */
export function matMulProgram(spec: TiledMatMulSpec, maxWorkgroupBytes = 16384) {
  if (choice.matmul === 'vec4' && vecMatMulSupported(spec)) {
    const tileK = vecMatMulWorkgroupBytes(choice.vec4TileK) <= maxWorkgroupBytes ? choice.vec4TileK : 8;
    return vecMatMulProgram(spec, tileK);
  }
  return tiledMatMulProgram(spec);
}

/** The device limit matMulProgram needs, from tfjs's webgpu backend object. */
export function workgroupBytesOf(backend: { device?: { limits?: { maxComputeWorkgroupStorageSize?: number } } }): number {
  return backend.device?.limits?.maxComputeWorkgroupStorageSize ?? 16384;
}
