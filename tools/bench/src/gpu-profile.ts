// Per-kernel GPU time of one call on tfjs's WebGPU backend (issue #18), from timestamp queries.
//
// While a profile runs, every dispatch the backend records gets its own compute pass whose
// `timestampWrites` land in a large query set (2 queries a dispatch); every 2,048 dispatches the set is
// resolved into a buffer, so a whole sampling pass (~10^5 kernels) is profiled in one go. Unlike
// tf.profile, nothing is read back or submitted per kernel: wall time stays close to an unprofiled
// call. Kernels are named by their program class (tfjs) or shader-key prefix (FAE's programs).
// Dawn quantizes timestamps unless started with `disable-dawn-features=timestamp_quantization`
// (gpu-bench.ts passes it with --profile).
import * as tf from '@tensorflow/tfjs-core';

const QUERIES = 4096; // Dawn's largest query set
const PER_CHUNK = QUERIES / 2;

export interface KernelGroup {
  name: string;
  count: number;
  ms: number;
}

export interface GpuProfile {
  /** Dispatches recorded during the call. */
  kernels: number;
  /** Sum of the dispatches' GPU times (begin to end of each one's compute pass). */
  gpuMs: number;
  /** Wall time of the profiled call (slightly above an unprofiled one: one compute pass per dispatch). */
  wallMs: number;
  /** Per kernel name, largest first. */
  byName: KernelGroup[];
  /** The single largest dispatches: name, output shape, ms. */
  top: Array<{ name: string; out: string; ms: number }>;
  /** Why there are no GPU times (no timestamp-query on this device), when so. */
  note?: string;
}

interface Chunk {
  read: any;
  resolve: any;
  names: string[];
  shapes: string[];
}

function kernelName(program: any): string {
  const cls = program?.constructor?.name;
  if (cls && cls !== 'Object') return cls;
  return String(program?.shaderKey ?? 'unknown').split('_')[0];
}

/** Profiles `run` (which must wait for its own outputs) on the current webgpu backend. */
export async function profileGpu(run: () => Promise<void>): Promise<GpuProfile> {
  const backend = tf.backend() as any;
  const device = backend.device;
  const G = globalThis as any;
  const timestamps = !!device?.features?.has?.('timestamp-query');
  const querySet = timestamps ? device.createQuerySet({ type: 'timestamp', count: QUERIES }) : null;
  const chunks: Chunk[] = [];
  let names: string[] = [];
  let shapes: string[] = [];
  let count = 0;
  const flush = () => {
    if (!names.length || !querySet) return;
    backend.endComputePassEncoder();
    backend.ensureCommandEncoderReady();
    const bytes = names.length * 16;
    const resolve = device.createBuffer({ size: bytes, usage: G.GPUBufferUsage.QUERY_RESOLVE | G.GPUBufferUsage.COPY_SRC });
    const read = device.createBuffer({ size: bytes, usage: G.GPUBufferUsage.MAP_READ | G.GPUBufferUsage.COPY_DST });
    backend.commandEncoder.resolveQuerySet(querySet, 0, names.length * 2, resolve, 0);
    backend.commandEncoder.copyBufferToBuffer(resolve, 0, read, 0, bytes);
    chunks.push({ read, resolve, names, shapes });
    names = [];
    shapes = [];
  };
  const original = backend.recordAndSubmit;
  backend.recordAndSubmit = function (program: any, output: any, inputs: any, uniforms: any) {
    count++;
    if (!querySet) return original.call(backend, program, output, inputs, uniforms);
    if (names.length === PER_CHUNK) flush();
    const slot = names.length;
    backend.endComputePassEncoder();
    backend.ensureCommandEncoderReady();
    backend.computePassEncoder = backend.commandEncoder.beginComputePass({
      timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * slot, endOfPassWriteIndex: 2 * slot + 1 },
    });
    names.push(kernelName(program));
    shapes.push(`[${output?.shape ?? ''}]`);
    const r = original.call(backend, program, output, inputs, uniforms);
    backend.endComputePassEncoder();
    return r;
  };
  const t0 = performance.now();
  try {
    await run();
  } finally {
    delete backend.recordAndSubmit; // back to the prototype's method
  }
  const wallMs = performance.now() - t0;
  flush();
  if (backend.commandEncoder) backend.submitQueue();
  const groups = new Map<string, KernelGroup>();
  const top: GpuProfile['top'] = [];
  let gpuMs = 0;
  for (const c of chunks) {
    await c.read.mapAsync(G.GPUMapMode.READ);
    const t = new BigUint64Array(c.read.getMappedRange().slice(0));
    c.read.unmap();
    c.read.destroy();
    c.resolve.destroy();
    for (let i = 0; i < c.names.length; i++) {
      const ms = t[2 * i + 1] > t[2 * i] ? Number(t[2 * i + 1] - t[2 * i]) / 1e6 : 0;
      gpuMs += ms;
      const g = groups.get(c.names[i]) ?? { name: c.names[i], count: 0, ms: 0 };
      g.count++;
      g.ms += ms;
      groups.set(c.names[i], g);
      if (top.length < 12 || ms > top[top.length - 1].ms) {
        top.push({ name: c.names[i], out: c.shapes[i], ms });
        top.sort((a, b) => b.ms - a.ms);
        if (top.length > 12) top.pop();
      }
    }
  }
  querySet?.destroy();
  return {
    kernels: count,
    gpuMs: timestamps ? gpuMs : NaN,
    wallMs,
    byName: [...groups.values()].sort((a, b) => b.ms - a.ms),
    top,
    ...(timestamps ? {} : { note: 'no timestamp-query on this device: kernel count only' }),
  };
}

/** One line per workload: kernels, GPU ms, wall ms, GPU share, the three largest kernel groups. */
export function profileLine(name: string, p: GpuProfile, timedMs: number): string {
  const share = Number.isNaN(p.gpuMs) ? '' : `${((100 * p.gpuMs) / timedMs).toFixed(0)}%`;
  const groups = p.byName.slice(0, 4).map((g) => `${g.name} x${g.count} ${g.ms.toFixed(1)}`).join('; ');
  return `| ${name} | ${p.kernels} | ${p.gpuMs.toFixed(1)} | ${timedMs.toFixed(1)} | ${share} | ${(timedMs / Math.max(p.kernels, 1) * 1000).toFixed(0)} | ${groups} |`;
}

export const PROFILE_HEADER = '| workload | kernels | GPU ms (sum) | wall ms (timed median) | GPU / wall | wall us per kernel | largest kernel groups (count, GPU ms) |\n| --- | --- | --- | --- | --- | --- | --- |';
