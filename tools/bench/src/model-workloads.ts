// Whole-model workloads from the model packages. Each entry throws (with `workload` set) when the
// package it needs is not there, so the benchmark table says what was skipped.
import type { Timing } from './workloads.js';

export function modelBenchmarks(_opts: { gpu?: boolean; quick?: boolean } = {}): Array<() => Promise<Timing>> {
  return [];
}
