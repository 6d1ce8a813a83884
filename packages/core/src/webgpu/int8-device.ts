// What the WebGPU device offers for int8 tensor-core work, and how to get a device that has it.
// Dawn exposes NVIDIA/AMD/Intel matrix units as the experimental feature
// `chromium-experimental-subgroup-matrix`, offered only with the Dawn toggle `allow_unsafe_apis`
// (initBackend('webgpu', { unsafeApis: true }) sets it in Node). tfjs-backend-webgpu creates its
// device with `timestamp-query` only, so for unsafeApis the backend factory is registered again
// here, the same as tfjs's but also asking for `subgroups` and the subgroup-matrix feature.

type Backend = any; // tfjs-backend-webgpu's WebGPUBackend (not imported: library code imports no backend)

export const SUBGROUP_MATRIX_FEATURE = 'chromium-experimental-subgroup-matrix';

/** The matrix shape the int8 GEMM uses: i8 x i8 -> i32, M16 N16 K32, on subgroups of 32. */
export const INT8_MATRIX_CONFIG = { componentType: 'i8', resultComponentType: 'i32', M: 16, N: 16, K: 32 } as const;

export interface SubgroupMatrixConfig {
  componentType: string;
  resultComponentType: string;
  M: number;
  N: number;
  K: number;
}

/** The adapter info the device was created from (the factory below keeps it; tfjs keeps vendor/architecture only). */
function adapterInfoOf(backend: Backend): any {
  return backend?.faeAdapterInfo ?? backend?.device?.adapterInfo ?? null;
}

/** The adapter's subgroup-matrix configurations (empty where unknown). */
export function subgroupMatrixConfigs(backend: Backend): SubgroupMatrixConfig[] {
  const list = adapterInfoOf(backend)?.subgroupMatrixConfigs;
  return list ? [...list].map((c: SubgroupMatrixConfig) => ({ componentType: c.componentType, resultComponentType: c.resultComponentType, M: c.M, N: c.N, K: c.K })) : [];
}

/** Why the subgroup-matrix int8 GEMM cannot run on this backend, or null. */
export function subgroupMatrixUnavailableReason(backend: Backend): string | null {
  const device = backend?.device;
  if (!device?.features) return 'not a WebGPU backend';
  if (!device.features.has(SUBGROUP_MATRIX_FEATURE)) {
    return backend.faeAdapterInfo
      ? `the device lacks '${SUBGROUP_MATRIX_FEATURE}': this adapter does not offer it, also with unsafe APIs allowed`
      : `the device lacks '${SUBGROUP_MATRIX_FEATURE}' (start with initBackend('webgpu', { unsafeApis: true }); the adapter must offer it)`;
  }
  if (!device.features.has('subgroups')) return "the device lacks 'subgroups'";
  const c = INT8_MATRIX_CONFIG;
  const configs = subgroupMatrixConfigs(backend);
  const ok = configs.some((x) => x.componentType === c.componentType && x.resultComponentType === c.resultComponentType && x.M === c.M && x.N === c.N && x.K === c.K);
  if (!ok) return `no ${c.componentType} -> ${c.resultComponentType} M${c.M} N${c.N} K${c.K} subgroup-matrix config (adapter offers: ${configs.map((x) => `${x.componentType}->${x.resultComponentType} ${x.M}x${x.N}x${x.K}`).join(', ') || 'none'})`;
  const maxSubgroup = adapterInfoOf(backend)?.subgroupMaxSize;
  if (typeof maxSubgroup === 'number' && 256 % maxSubgroup !== 0) return `subgroup size ${maxSubgroup} does not divide the 256-invocation workgroup`;
  return null;
}

/** The Dawn toggle that makes a Node adapter offer the experimental features. */
export const UNSAFE_APIS_TOGGLE = 'enable-dawn-features=allow_unsafe_apis';

/** Features the unsafe-APIs factory asks for where the adapter offers them. */
export const INT8_DEVICE_FEATURES: readonly string[] = ['timestamp-query', 'subgroups', SUBGROUP_MATRIX_FEATURE];

/**
 * Registers tfjs's 'webgpu' backend factory again (same adapter options, limits and backend class
 * as tfjs-backend-webgpu 4.22's), requesting INT8_DEVICE_FEATURES where offered. `WebGPUBackend`
 * comes from the backend package's module; `gpuOf` gives navigator.gpu (tests pass a fake). Must run
 * before the backend is first started.
 */
export function registerWebGPUFactoryWithInt8Features(tf: any, WebGPUBackend: new (device: any, info: any) => any, gpuOf: () => any = () => (globalThis as any).navigator.gpu): void {
  tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', async () => {
    const gpu = gpuOf();
    const powerPreference = tf.env().get('WEBGPU_USE_LOW_POWER_GPU') ? 'low-power' : 'high-performance';
    const adapter = await gpu.requestAdapter({ powerPreference });
    const limits = adapter.limits;
    const device = await adapter.requestDevice({
      requiredFeatures: INT8_DEVICE_FEATURES.filter((f) => adapter.features.has(f)),
      requiredLimits: {
        maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
        maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
        maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
        maxBufferSize: limits.maxBufferSize,
        maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
        maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
      },
    });
    const info = adapter.info;
    const backend = new WebGPUBackend(device, info);
    backend.faeAdapterInfo = info;
    return backend;
  }, 3);
}
