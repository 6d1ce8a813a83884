// Procedural weights: the deterministic stand-in for large checkpoints used by the shared fixtures
// (weights.json names every tensor with its shape, seed, offset and scale) and by the benchmarks.
//   value_i = float32(offset + scale * (2u - 1)),  u = fmix32((i * 0x9E3779B1 + seed * 0x85EBCA77) mod 2^32) / 2^32
// fmix32 is murmur3's finaliser. Values are computed in float64 and rounded once to float32.
import { ConfigError, type TensorStore } from '@fae/core';

/** One tensor of a weights.json file. */
export interface ProceduralTensorSpec {
  shape: number[];
  seed: number;
  offset: number;
  scale: number;
}

export type ProceduralWeightsSpec = Record<string, ProceduralTensorSpec>;

/** murmur3 fmix32 on an unsigned 32-bit integer. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The float32 values of one procedural tensor, row-major. */
export function proceduralValues(spec: ProceduralTensorSpec): Float32Array {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const base = Math.imul(spec.seed >>> 0, 0x85ebca77);
  for (let i = 0; i < n; i++) {
    const u = fmix32((Math.imul(i, 0x9e3779b1) + base) >>> 0) / 4294967296;
    out[i] = spec.offset + spec.scale * (2 * u - 1); // float64, rounded to float32 on store
  }
  return out;
}

/** A TensorStore whose tensors are generated on demand (one at a time) from a weights.json object. */
export function proceduralStore(spec: ProceduralWeightsSpec, source = 'procedural weights'): TensorStore {
  for (const [name, s] of Object.entries(spec)) {
    if (!Array.isArray(s.shape) || typeof s.seed !== 'number' || typeof s.offset !== 'number' || typeof s.scale !== 'number') {
      throw new ConfigError(source, `tensor '${name}' needs {shape, seed, offset, scale}, got ${JSON.stringify(s)}`);
    }
  }
  return {
    source,
    keys: () => Object.keys(spec),
    info: (key) => (spec[key] ? { dtype: 'F32', shape: spec[key].shape.slice() } : undefined),
    read: async (key) => {
      if (!spec[key]) throw new ConfigError(source, `no tensor '${key}'`);
      return proceduralValues(spec[key]);
    },
  };
}

/** Procedural weights for every parameter and persistent buffer a model expects (for benchmarks). */
export function proceduralSpecFor(shapes: Iterable<[string, number[]]>, seed = 1000): ProceduralWeightsSpec {
  const out: ProceduralWeightsSpec = {};
  let s = seed;
  for (const [name, shape] of shapes) {
    const fanIn = shape.length > 1 ? shape.slice(1).reduce((a, b) => a * b, 1) : 0;
    const isVar = name.endsWith('running_var');
    out[name] = { shape, seed: s++, offset: isVar ? 1 : 0, scale: isVar ? 0.5 : fanIn ? Math.sqrt(3 / fanIn) : 0.1 };
  }
  return out;
}
