// @fae/core quant: int8 (W8A8) inference on WebGPU.
export { INT8_QMAX, int8MatMulReference, packInt8Rows, packedWords, quantizeRowsReference, roundHalfEven, unpackInt8Rows } from './int8-reference.js';
export { QuantizedWeight, int8MatMul, quantizeRows, readQuantizedRows, resolveInt8Kernel, w8a8Linear, type Int8MatMulOptions, type W8A8Kernel } from './w8a8.js';
export { quantizeLinears, type QuantizeLinearsOptions, type QuantizedLinears } from './quantize-linears.js';
export { configureInt8Kernels, int8SubgroupMatrixProbe, precompileInt8SubgroupMatrix, prepareInt8SubgroupMatrix, type Int8Kernel, type SubgroupMatrixProbe } from '../webgpu/int8-kernels.js';
export { SUBGROUP_MATRIX_VARIANTS, subgroupMatrixGemmShader, scalarGemmUserCode, type SubgroupMatrixVariant, type SubgroupMatrixKWords, type Int8GemmSpec } from '../webgpu/int8-gemm-wgsl.js';
export { SUBGROUP_MATRIX_FEATURE, UNSAFE_APIS_TOGGLE, subgroupMatrixConfigs, subgroupMatrixUnavailableReason } from '../webgpu/int8-device.js';
