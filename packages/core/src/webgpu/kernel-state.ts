// Whether FAE's WebGPU kernels are registered: set by register.ts, read by the fused ops to choose
// their kernel or say why they fall back. Its own file so the ops and the registration do not import
// each other.
let enabled = false;

export function faeWebGPUKernelsEnabled(): boolean {
  return enabled;
}

/** Internal: register.ts records (un)registration here. */
export function setFaeWebGPUKernelsEnabled(on: boolean): void {
  enabled = on;
}
