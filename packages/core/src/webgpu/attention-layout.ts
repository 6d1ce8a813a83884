// How the fused attention kernels split work, shared by the forward and backward programs.
//
// A workgroup owns R rows (queries in the forward and dQ kernels, keys in dK/dV). Each row is
// handled by S invocations, one per 16-wide slice of the head dimension: an invocation keeps only
// its slice of q (or k, v) and of the accumulator in registers (16 + 16 floats, not 2-3 x DMAX:
// the first version held whole rows, ~150 registers, and ran at a fraction of the H100's rate).
// Dot products over the whole head are summed from the S slice partials through workgroup memory,
// once per tile of TILE rows of the other operand, which is staged in workgroup memory and read by
// every invocation of a slice at the same address (a broadcast).
//
// Registers are sized by DMAX, the head width rounded up to a multiple of 16 (64 below that):
// loads past the true head width D read zeros. Everything else (B*H, Tq, Tk, D, scale, causal) is a
// uniform, so one pipeline per DMAX serves every shape. Workgroup memory stays <= 24 KiB (the limit
// is 32 KiB on software Vulkan, 48 KiB on an H100).

/** Slice width per invocation, in floats. */
export const ATTN_SLICE = 16;

/** Largest head dim the fused kernels take. */
export const ATTN_MAX_HEAD_DIM = 128;

/** DMAX for a head dim: 64 for D <= 64 (one pipeline for the common heads), else a multiple of 16. */
export function attentionHeadBucket(d: number): number {
  return d <= 64 ? 64 : Math.ceil(d / ATTN_SLICE) * ATTN_SLICE;
}

export interface AttentionLayout {
  /** head width in registers (multiple of 16) */
  dMax: number;
  /** vec4s per head row: dMax / 4 */
  d4: number;
  /** invocations per row (slices) */
  slices: number;
  /** rows per workgroup */
  rows: number;
  /** rows of the other operand per staged tile */
  tile: number;
  /** invocations per workgroup: rows * slices */
  threads: number;
}

/**
 * The layout for a head dim. `partials` = how many [tile x rows x slices] partial-sum arrays the
 * kernel keeps in workgroup memory (1 forward, 2 backward): the tile shrinks to stay within 24 KiB.
 */
export function attentionLayout(d: number, partials: 1 | 2): AttentionLayout {
  const dMax = attentionHeadBucket(d);
  const slices = dMax / ATTN_SLICE;
  const rows = slices <= 4 ? 64 : 32;
  const bytes = (tile: number) => 2 * tile * dMax * 4 + partials * tile * rows * slices * 4;
  let tile = 16;
  while (tile > 4 && bytes(tile) > 24 * 1024) tile /= 2;
  return { dMax, d4: dMax / 4, slices, rows, tile, threads: rows * slices };
}
