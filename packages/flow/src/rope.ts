// STARFlow's RoPE option (apple/ml-starflow `VisionRotaryEmbeddingFast(dim=head_dim//2, pt_seq_len)`
// with 2-D positions `get_positions(h, w)`): the EVA table of @fae/core (first half of the head dim
// rotated by the row, second half by the column, interleaved pairs). As upstream, positions follow
// the SEQUENCE index of the (possibly flipped) block input: sequence position t gets the table row t,
// and with a KV cache the newest queries get rows [Tk - Tq, Tk).
import * as tf from '@tensorflow/tfjs-core';
import { Module, applyRotary, visionRotaryTables } from '@fae/core';
import type { SequenceRotary } from './flow-attention.js';

export class SequenceRope extends Module implements SequenceRotary {
  readonly tokens: number;
  constructor(readonly headDim: number, readonly gridSize: number) {
    super();
    const { cos, sin, width, tokens } = visionRotaryTables(headDim / 2, gridSize);
    this.tokens = tokens;
    // Computed tables, not in state dicts (STARFlow recomputes them in forward).
    this.addBuffer('cos', tf.tensor2d(cos, [tokens, width]), { persistent: false }); // [T, Dh]
    this.addBuffer('sin', tf.tensor2d(sin, [tokens, width]), { persistent: false }); // [T, Dh]
  }

  /** x: [B, H, t, Dh] at sequence positions start .. start + t - 1 -> [B, H, t, Dh] */
  apply(x: tf.Tensor, start: number): tf.Tensor {
    return tf.tidy(() => {
      const t = x.shape[2]!;
      const cos = tf.slice(this.getBuffer('cos'), [start, 0], [t, -1]); // [t, Dh]
      const sin = tf.slice(this.getBuffer('sin'), [start, 0], [t, -1]); // [t, Dh]
      return applyRotary(x, cos, sin, 'interleaved');
    });
  }
}

export function createSequenceRope(headDim: number, gridSize: number): SequenceRope {
  return new SequenceRope(headDim, gridSize);
}
