// Records a complete WGSL module's dispatch into tfjs-backend-webgpu's command stream. tfjs builds
// every shader from a prefix of its own, which leaves no place for the `enable` directives that
// Dawn's subgroup matrices need at the top of a module; this runs such a module on tfjs tensors
// the way the backend's recordAndSubmit runs its programs (same encoder and pass, same buffer
// ownership and submit batching), so it interleaves in order with tfjs's kernels.
import * as tf from '@tensorflow/tfjs-core';

type Backend = any; // tfjs-backend-webgpu's WebGPUBackend (not imported: library code imports no backend)
// WebGPU objects (device, pipeline, pass, buffer): untyped here, the DOM lib in use has no WebGPU types.
type Gpu = any;

const pipelines = new WeakMap<object, Map<string, Gpu>>();

function cacheOf(device: object): Map<string, Gpu> {
  let m = pipelines.get(device);
  if (!m) pipelines.set(device, (m = new Map()));
  return m;
}

/** Compiles (once per device and key) and reports compilation errors as a rejected promise. */
export async function compileRawPipeline(backend: Backend, key: string, code: string): Promise<Gpu> {
  const cache = cacheOf(backend.device);
  const hit = cache.get(key);
  if (hit) return hit;
  const device = backend.device as Gpu;
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code, label: key });
  const info = await module.getCompilationInfo();
  const errors = info.messages.filter((m: { type: string }) => m.type === 'error');
  if (errors.length) {
    await device.popErrorScope();
    throw new Error(`${key}: WGSL does not compile: ${errors.map((m: { lineNum: number; linePos: number; message: string }) => `${m.lineNum}:${m.linePos} ${m.message}`).join('; ')}`);
  }
  let pipeline: Gpu;
  try {
    pipeline = await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: key });
  } finally {
    const err = await device.popErrorScope();
    if (err) throw new Error(`${key}: pipeline creation failed: ${err.message}`);
  }
  cache.set(key, pipeline);
  return pipeline;
}

/** The cached pipeline, or a synchronous compile of `code` (its errors surface as device errors). */
function pipelineFor(backend: Backend, key: string, code: string): Gpu {
  const cache = cacheOf(backend.device);
  let p = cache.get(key);
  if (!p) {
    const device = backend.device as Gpu;
    p = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code, label: key }), entryPoint: 'main' }, label: key });
    cache.set(key, p);
  }
  return p;
}

export interface RawDispatch {
  /** Pipeline cache key (must identify `code`). */
  key: string;
  code: string;
  /** Bound at 1..n, in order; the output is binding 0 and the int32 uniforms follow the inputs. */
  inputs: tf.TensorInfo[];
  outputShape: number[];
  outputDtype: 'float32' | 'int32';
  uniforms: number[];
  workgroups: [number, number, number];
}

/** Runs `d` on `backend` and returns the new output (owned by the caller, as a kernel's output). */
export function dispatchRaw(backend: Backend, d: RawDispatch): tf.TensorInfo {
  const output = backend.makeTensorInfo(d.outputShape, d.outputDtype) as tf.TensorInfo;
  if (d.outputShape.reduce((a, b) => a * b, 1) === 0) return output;
  const pipeline = pipelineFor(backend, d.key, d.code);
  backend.uploadToGPU(output.dataId);
  for (const t of d.inputs) backend.uploadToGPU(t.dataId);
  const bufferOf = (t: tf.TensorInfo) => ({ buffer: backend.tensorMap.get(t.dataId).resource as Gpu });
  const uniform = backend.makeUniforms(d.uniforms.map((v) => ({ type: 'int32', data: [v] })));
  const resources = [bufferOf(output), ...d.inputs.map(bufferOf), uniform];
  for (const t of [...d.inputs, output]) backend.commandQueueOwnedIds.add(t.dataId);
  const bindGroup = (backend.device as Gpu).createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: resources.map((resource, binding) => ({ binding, resource })),
  });
  backend.ensureCommandEncoderReady();
  if (!backend.computePassEncoder) backend.computePassEncoder = backend.commandEncoder.beginComputePass({});
  const pass = backend.computePassEncoder as Gpu;
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(...d.workgroups);
  backend.dispatchCountInPass++;
  const timing = backend.activeTimers != null; // tf.time / profiling: tfjs opens a timed pass per program
  if (timing || Number(tf.env().get('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE')) <= backend.dispatchCountInPass) {
    backend.endComputePassEncoder();
    if (!timing) backend.submitQueue();
  }
  return output;
}
