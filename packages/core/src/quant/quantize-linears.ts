// quantizeLinears: W8A8 for a whole loaded model. Every Linear in the module tree (DINOv2, the FAE
// decoders, LightningDiT all project through core's Linear) gets an int8 copy of its weight and a
// forward that runs w8a8Linear; attention, norms, convolutions and everything else stay fp32. Where
// the int8 kernel cannot run ('auto' without subgroup matrices, or not on webgpu) nothing changes and
// the result says why. `restore()` puts the fp32 forwards back; `dispose()` also frees the int8 weights.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../errors.js';
import { Linear } from '../nn/linear.js';
import type { Module } from '../nn/module.js';
import type { Int8Kernel } from '../webgpu/int8-kernels.js';
import { QuantizedWeight, resolveInt8Kernel, w8a8Linear, type W8A8Kernel } from './w8a8.js';

export interface QuantizeLinearsOptions {
  mode: 'w8a8';
  /** 'auto' (default): subgroup matrices where the device has them, else fp32; 'scalar' / 'subgroup-matrix': required. */
  kernel?: W8A8Kernel;
  /** Which Linears to quantise (default: all); `path` is the state-dict prefix, e.g. 'blocks.3.mlp.fc1'. */
  filter?: (path: string, linear: Linear) => boolean;
}

export interface QuantizedLinears {
  mode: 'w8a8';
  /** The int8 kernel in use, or null where the model stayed fp32. */
  kernel: Int8Kernel | null;
  /** Why the model stayed fp32 (kernel null), else null. */
  reason: string | null;
  /** Paths of the Linears now running at W8A8. */
  layers: string[];
  /** Paths of the Linears the filter left in fp32. */
  skipped: string[];
  /** Puts the fp32 forwards back and frees the int8 weights (idempotent); module.dispose() calls it too. */
  dispose(): void;
}

const QUANTIZED = Symbol.for('@fae/core:w8a8');

function linearsOf(module: Module, prefix = ''): Array<[string, Linear]> {
  const out: Array<[string, Linear]> = [];
  for (const [name, child] of module.children()) {
    const path = prefix ? `${prefix}.${name}` : name;
    if (child instanceof Linear) out.push([path, child]);
    else out.push(...linearsOf(child, path));
  }
  return out;
}

/**
 * Swaps every Linear's forward in `module` for W8A8 (see the file header). Await it once after
 * loading the weights, on the webgpu backend (started with `unsafeApis: true` for tensor cores).
 */
export async function quantizeLinears(module: Module, opts: QuantizeLinearsOptions): Promise<QuantizedLinears> {
  if (opts.mode !== 'w8a8') throw new ConfigError('quantizeLinears', `mode '${String(opts.mode)}' is not supported (only 'w8a8')`);
  const { kernel, reason } = await resolveInt8Kernel(opts.kernel ?? 'auto');
  const layers: string[] = [];
  const skipped: string[] = [];
  const undo: Array<() => void> = [];
  let disposed = false;
  const handle: QuantizedLinears = {
    mode: 'w8a8', kernel, reason, layers, skipped,
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const u of undo.reverse()) u();
    },
  };
  if (!kernel) return handle;
  try {
    for (const [path, lin] of linearsOf(module)) {
      if ((lin as unknown as Record<symbol, unknown>)[QUANTIZED]) throw new ConfigError('quantizeLinears', `${path} is already quantised (dispose the earlier result first)`);
      if (opts.filter && !opts.filter(path, lin)) {
        skipped.push(path);
        continue;
      }
      const q = QuantizedWeight.fromWeight(lin.weight);
      const own = lin as unknown as { forward: (x: tf.Tensor) => tf.Tensor } & Record<symbol, unknown>;
      own.forward = (x: tf.Tensor) => w8a8Linear(x, q, lin.bias, { kernel });
      own[QUANTIZED] = true;
      undo.push(() => {
        delete (own as Partial<typeof own>).forward; // back to Linear.prototype.forward
        delete own[QUANTIZED];
        q.dispose();
      });
      layers.push(path);
    }
  } catch (e) {
    handle.dispose();
    throw e;
  }
  // The module frees the int8 weights with its own.
  const m = module as unknown as { dispose: () => void };
  const hadOwnDispose = Object.prototype.hasOwnProperty.call(m, 'dispose');
  const previous = m.dispose;
  m.dispose = () => {
    handle.dispose();
    previous.call(module);
  };
  undo.unshift(() => {
    if (hadOwnDispose) m.dispose = previous;
    else delete (m as Partial<typeof m>).dispose;
  });
  return handle;
}
