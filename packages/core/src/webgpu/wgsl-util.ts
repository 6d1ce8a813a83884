// WGSL snippets shared by the FAE kernels: vec4 row loads/stores (head widths are multiples of 4),
// and the workgroup index of a possibly folded 1-D grid.

/**
 * A WGSL function `ld<Name>(row, c, W) -> vec4<f32>`: vec4 number `c` of row `row` of a buffer bound
 * as array<vec4<f32>> (program.variableComponents 4) holding rows of W vec4s; zero for c >= W (the
 * register arrays are sized to a bucket above the head width). One select, no branch.
 */
export function vec4RowLoader(name: string): string {
  return `
    fn ld${name}(row : i32, c : i32, W : i32) -> vec4<f32> {
      return select(vec4<f32>(0.0), ${name}[row * W + min(c, W - 1)], c < W);
    }`;
}

/** WGSL: this workgroup's index in a 1-D grid that tfjs may have folded into 2-D or 3-D. */
export const FLAT_WORKGROUP = `
    fn flatWorkgroupIndex() -> i32 {
      return i32(workgroupId.x + numWorkgroups.x * (workgroupId.y + numWorkgroups.y * workgroupId.z));
    }`;

/** WGSL: stores vec4 `v` (vec4 number `c` of row `row`) into the scalar result viewed as [rows, 4W], if c < W. */
export const STORE_ROW4 = `
    fn storeRow4(row : i32, c : i32, W : i32, v : vec4<f32>) {
      if (c < W) {
        let b = 4 * (row * W + c);
        result[b] = v.x;
        result[b + 1] = v.y;
        result[b + 2] = v.z;
        result[b + 3] = v.w;
      }
    }`;

/**
 * `n` copies of `template` with every `#` replaced by 0..n-1 (or `template(i)`), joined by newlines. The kernels unroll
 * their loops over the head width this way: registers become named variables (q0, q1, ...) with no
 * array indexing, which the NVIDIA driver keeps in registers and software Vulkan (lavapipe) compiles
 * quickly (its lowering of indexed private arrays is what made the first versions take minutes).
 */
export function rep(n: number, template: string | ((i: number) => string), sep = '\n'): string {
  const f = typeof template === 'string' ? (i: number) => template.replace(/#/g, String(i)) : template;
  return Array.from({ length: n }, (_, i) => f(i)).join(sep);
}
