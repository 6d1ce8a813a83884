// A ViT patch embedding: PyTorch's Conv2d(C, D, kernel=p, stride=p) computed as one matmul. The
// image is cut into p x p patches by reshape/transpose (im2col), and the weight is kept in the
// 'conv2d-matmul' layout ([p*p*C in (kh, kw, c) order, D]), converted once when loaded.
import * as tf from '@tensorflow/tfjs-core';
import { Module, ShapeError, init } from '@fae/core';

export class PatchEmbedding extends Module {
  readonly weight: tf.Variable; // [p*p*C, D]
  readonly bias: tf.Variable; // [D]
  constructor(readonly inChannels: number, readonly hiddenSize: number, readonly patchSize: number) {
    super();
    const fanIn = inChannels * patchSize * patchSize;
    this.weight = this.addParameter('weight', [hiddenSize, inChannels, patchSize, patchSize], init.torchDefault(fanIn), 'conv2d-matmul');
    this.bias = this.addParameter('bias', [hiddenSize], init.torchDefault(fanIn));
  }

  /** Token grid (rows, cols) for an H x W image: floor division, as a stride-p 'valid' conv. */
  grid(height: number, width: number): [number, number] {
    return [Math.floor(height / this.patchSize), Math.floor(width / this.patchSize)];
  }

  /** x: [B, H, W, C] (NHWC) -> [B, h*w, D], tokens in row-major (h, w) order like conv().flatten(2). */
  forward(x: tf.Tensor): tf.Tensor {
    if (x.rank !== 4 || x.shape[3] !== this.inChannels) {
      throw new ShapeError('pixel values', `[B, H, W, ${this.inChannels}] (NHWC)`, `[${x.shape}]`);
    }
    const p = this.patchSize;
    const [b, height, width, c] = x.shape;
    const [h, w] = this.grid(height, width);
    if (h < 1 || w < 1) throw new ShapeError('pixel values', `at least ${p}x${p} pixels`, `${height}x${width}`);
    return tf.tidy(() => {
      // A stride-p conv ignores the remainder rows/columns: crop them first.
      const xc = height === h * p && width === w * p ? x : tf.slice(x, [0, 0, 0, 0], [b, h * p, w * p, c]); // [B, h*p, w*p, C]
      const rows = tf.reshape(xc, [b * h, p, w, p * c]); // [B*h, kh, w, kw*C]
      const patches = tf.reshape(tf.transpose(rows, [0, 2, 1, 3]), [b * h * w, p * p * c]); // [B*h*w, kh*kw*C]
      const y = tf.add(tf.matMul(patches, this.weight), this.bias); // [B*h*w, D]
      return tf.reshape(y, [b, h * w, this.hiddenSize]); // [B, h*w, D]
    });
  }
}
