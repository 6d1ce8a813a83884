// The fused kernels FAE registers for the 'webgpu' backend (register.ts registers every entry).
// A function, not a constant: fused-*.ts import register.ts (to ask whether the kernels are on), so
// these modules form an import cycle, and nothing here may touch their exports while modules load.
import { ATTENTION_BACKWARD_KERNEL, ATTENTION_FORWARD_KERNEL, fusedAttentionBackwardKernel, fusedAttentionForwardKernel, type KernelArgs } from './attention-kernels.js';
import { NORM_KERNEL, fusedNormKernel } from './fused-norm.js';
import { LINEAR_ACT_KERNEL, linearActivationKernel } from './fused-linear.js';

export function faeFusedKernels(): Record<string, (args: KernelArgs) => unknown> {
  return {
    [ATTENTION_FORWARD_KERNEL]: fusedAttentionForwardKernel,
    [ATTENTION_BACKWARD_KERNEL]: fusedAttentionBackwardKernel,
    [NORM_KERNEL]: fusedNormKernel,
    [LINEAR_ACT_KERNEL]: linearActivationKernel,
  };
}
