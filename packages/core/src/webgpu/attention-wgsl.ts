// WGSL fragments shared by the fused attention programs (attention-forward-program.ts and
// attention-backward-programs.ts). Every kernel but Delta has the same skeleton (attention-layout.ts):
// a workgroup owns R rows of one (batch, head), S invocations per row each hold a 16-wide slice of
// the head, and tiles of the other operand are staged in workgroup memory while the slices' partial
// dot products are summed through it. The fragments below are that skeleton; the programs supply
// what they accumulate. Names the fragments define in WGSL: BH, Tq, Tk, D, W, causal, wg, live, bh,
// tid, r, h, row, rowC, off, pr (see ownedRows), lim and keyEnd (queryBlockKeyRange), k0, nk and nj
// (walkKeyTiles).
import type { AttentionLayout } from './attention-layout.js';
import { FLAT_WORKGROUP, STORE_ROW4, rep, vec4RowLoader } from './wgsl-util.js';

/** WGSL helper functions: `ld<Name>` for each vec4 input, flatWorkgroupIndex and storeRow4. */
export function attentionHelpers(inputs: string[]): string {
  return `${inputs.map(vec4RowLoader).join('')}
    ${FLAT_WORKGROUP}
    ${STORE_ROW4}`;
}

/**
 * WGSL workgroup memory: each name of `tiles` a staged tile of L.tile rows (vec4s of the head), each
 * of `partials` a [tile x rows x slices] array of slice partial sums.
 */
export function tileMemory(L: AttentionLayout, tiles: string[], partials: string[]): string {
  return [
    ...tiles.map((t) => `var<workgroup> ${t} : array<vec4<f32>, ${L.tile * L.d4}>;`),
    ...partials.map((p) => `var<workgroup> ${p} : array<f32, ${L.tile * L.rows * L.slices}>;`),
  ].join('\n    ');
}

/**
 * WGSL (start of main): the shapes from the uniforms and the rows this invocation works on. The
 * workgroup owns rows `block * R .. + R` of `rows` ('Tq': query rows, 'Tk': key rows) of head `bh`;
 * this invocation is row `r` of them (`row`, clamped to a real row: `rowC`), head slice `h`
 * (vec4s 4h .. 4h+3), its partials at `pr + h` of each partial row. `live`: false in the padding
 * tfjs may add to a folded grid.
 */
export function ownedRows(L: AttentionLayout, rows: 'Tq' | 'Tk', block: string): string {
  const { rows: R, slices: S } = L;
  return `
      let BH = uniforms.qShape.x;
      let Tq = uniforms.qShape.y;
      let D = uniforms.qShape.z;
      let W = D / 4; // vec4s per row
      let Tk = uniforms.kShape.y;
      let causal = uniforms.causal != 0;
      let nBlocks = (${rows} + ${R - 1}) / ${R};
      let wg = flatWorkgroupIndex();
      let live = wg < BH * nBlocks; // tfjs may pad a folded grid
      let bh = min(wg / nBlocks, BH - 1);
      let ${block} = wg % nBlocks;
      let tid = i32(localIndex);
      let r = tid / ${S}; // row in the workgroup
      let h = tid % ${S}; // head slice: vec4s 4h .. 4h+3
      let row = ${block} * ${R} + r;
      let rowC = min(row, ${rows} - 1);
      let off = Tk - Tq;
      let pr = r * ${S};`;
}

/**
 * WGSL after ownedRows(L, 'Tq', block), for kernels owning query rows: `lim`, the keys this row
 * sees (causal: key j <= row + off), and `keyEnd`, the workgroup's last row's limit (uniform across
 * the workgroup). Needs `var<workgroup> wgKeyEnd : i32;`.
 */
export function queryBlockKeyRange(L: AttentionLayout, block: string): string {
  const R = L.rows;
  return `
      // keys this row may see, and the workgroup's last key (its last row's limit)
      let lim = select(Tk, clamp(rowC + off + 1, 0, Tk), causal);
      if (tid == 0) {
        wgKeyEnd = select(Tk, clamp(min(${block} * ${R} + ${R - 1}, Tq - 1) + off + 1, 0, Tk), causal);
      }
      let keyEnd = workgroupUniformLoad(&wgKeyEnd);`;
}

/**
 * WGSL: the workgroup copies rows `start .. start + tile` of the other operand (`rows` 'Tk' or 'Tq'
 * of head `bh`) into workgroup memory, zeros past the end: `tile[e] = ld<input>(...)` for each
 * [tile, input] pair.
 */
export function stageTile(L: AttentionLayout, start: string, rows: 'Tq' | 'Tk', copies: Array<[tile: string, input: string]>): string {
  const { tile, d4: D4, threads } = L;
  return `
        for (var e = tid; e < ${tile * D4}; e += ${threads}) {
          let j = ${start} + e / ${D4};
          let c = e % ${D4};
          let ok = j < ${rows};
          let src = bh * ${rows} + min(j, ${rows} - 1);
          ${copies.map(([t, input]) => `${t}[e] = select(vec4<f32>(0.0), ld${input}(src, c, W), ok);`).join('\n          ')}
        }`;
}

/**
 * WGSL, for kernels owning query rows (after queryBlockKeyRange): the loop over tiles of keys
 * 0 .. keyEnd. Each tile of K and V is staged into kT, vT; every invocation writes its slice's
 * partial dot products of each key with its registers (`partials` pairs: partial array, register
 * name, tile, e.g. ['part', 'q', 'kT'] for q . k_j); then `body` runs per tile with `nj`, the keys
 * of the tile this row sees (all partials of the tile written), and a barrier ends the tile.
 */
export function walkKeyTiles(L: AttentionLayout, partials: Array<[partials: string, register: string, tile: string]>, body: string): string {
  const { tile: TK, d4: D4 } = L;
  return `
      for (var k0 = 0; k0 < keyEnd; k0 += ${TK}) {
        ${stageTile(L, 'k0', 'Tk', [['kT', 'K'], ['vT', 'V']])}
        workgroupBarrier();
        // keys of this tile the workgroup needs (a runtime bound: the key loops stay loops)
        let nk = min(${TK}, keyEnd - k0);
        // this slice's partial dot products with the tile's keys
        for (var j = 0; j < nk; j++) {
          let kb = j * ${D4} + 4 * h;
          ${partials.map(([, reg, t], n) => `let dot${n} = ${sliceDot(reg, (i) => `${t}[kb + ${i}]`)};`).join('\n          ')}
          ${partials.map(([p], n) => `${ownPartial(L, p, 'j')} = ${hsum(`dot${n}`)};`).join('\n          ')}
        }
        workgroupBarrier();
        let nj = clamp(lim - k0, 0, nk); // keys this row sees
        ${body}
        workgroupBarrier();
      }`;
}

/** WGSL lvalue: this invocation's partial of tile row `j` in the partial array `partials`. */
export function ownPartial(L: AttentionLayout, partials: string, j: string): string {
  return `${partials}[${j} * ${L.rows * L.slices} + pr + h]`;
}

/** WGSL: the full dot product of tile row `j` for this row, the sum of its S slice partials. */
export function rowSum(L: AttentionLayout, partials: string, j: string): string {
  return rep(L.slices, (hh) => `${partials}[${j} * ${L.rows * L.slices} + pr + ${hh}]`, ' + ');
}

/** WGSL: `a . b` over this invocation's slice, as a vec4 (four vec4 products summed): a0..a3 with b(0)..b(3). */
export function sliceDot(a: string, b: (i: number) => string): string {
  return `fma(${a}0, ${b(0)}, fma(${a}1, ${b(1)}, fma(${a}2, ${b(2)}, ${a}3 * ${b(3)})))`;
}

/** WGSL: the sum of a vec4's components. */
export const hsum = (v: string) => `(${v}.x + ${v}.y + ${v}.z + ${v}.w)`;

/** WGSL: `let <name>0..3 = ld<input>(row, 4h + i, W) [* factor]`, this invocation's slice of a row. */
export function loadSlice(name: string, input: string, row: string, factor = ''): string {
  return rep(4, `let ${name}# = ld${input}(${row}, 4 * h + #, W)${factor ? ` * ${factor}` : ''};`);
}

/** The tfjs program object of a row-block kernel: one workgroup of L.threads per R rows of each of bh heads. */
export function rowBlockProgram(
  L: AttentionLayout,
  p: { shaderKey: string; variableNames: string[]; variableComponents: number[]; outputShape: number[]; bh: number; rows: number; uniforms: string; userCode: string },
) {
  return {
    variableNames: p.variableNames,
    variableComponents: p.variableComponents,
    outputShape: p.outputShape,
    shaderKey: p.shaderKey,
    dispatchLayout: { x: [0] },
    dispatch: [p.bh * Math.ceil(p.rows / L.rows), 1, 1] as [number, number, number],
    workgroupSize: [L.threads, 1, 1] as [number, number, number],
    uniforms: p.uniforms,
    getUserCode: () => p.userCode,
  };
}
