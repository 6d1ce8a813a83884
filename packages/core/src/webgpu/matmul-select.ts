// Which matmul program FAE's WebGPU kernels build for a product: the vec4 double-buffered kernel
// (matmul-vec4.ts) where its 16-byte alignment holds, else the scalar tiled kernel (matmul-tiled.ts).
// configureFaeWebGPUKernels({ matmul, vec4TileK }) sets the choice (benchmarks compare both).
import { tiledMatMulProgram, type TiledMatMulSpec } from './matmul-tiled.js';
import { vecMatMulProgram, vecMatMulSupported, vecMatMulWorkgroupBytes } from './matmul-vec4.js';

export type MatMulKernel = 'vec4' | 'scalar';

// Default 'scalar' until the vec4 kernel is timed on a GPU (BENCHMARKS.md, issue #18): it is tested
// against float64 on software Vulkan, not yet measured on hardware.
const choice: { matmul: MatMulKernel; vec4TileK: 8 | 16 } = { matmul: 'scalar', vec4TileK: 16 };

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
