// The one place where PyTorch tensor layouts are converted to the layouts our layers compute in.
//   'plain'  : same layout in both.
//   'linear' : torch Linear weight [out, in]      <-> ours [in, out]   (so y = x @ W, no transpose flag)
//   'conv2d' : torch Conv2d weight OIHW [O,I,H,W] <-> ours HWIO [H,W,I,O] (tf.conv2d's filter layout)
//   'conv2d-matmul' : torch OIHW <-> ours [I*H*W in (H,W,I) order, O] (patch embedding as a matmul)
import * as tf from '@tensorflow/tfjs-core';

export type Layout = 'plain' | 'linear' | 'conv2d' | 'conv2d-matmul';

/** Our shape for a tensor whose PyTorch shape is `torchShape`. */
export function ourShape(torchShape: readonly number[], layout: Layout): number[] {
  const s = torchShape;
  switch (layout) {
    case 'plain': return s.slice();
    case 'linear': return [s[1], s[0]];
    case 'conv2d': return [s[2], s[3], s[1], s[0]];
    case 'conv2d-matmul': return [s[2] * s[3] * s[1], s[0]];
  }
}

/** PyTorch shape for a tensor of ours with `shape`, given its torch shape is known to be `torchShape`. */
export function fromTorch(t: tf.Tensor, layout: Layout): tf.Tensor {
  switch (layout) {
    case 'plain': return t.clone();
    case 'linear': return tf.transpose(t, [1, 0]);
    case 'conv2d': return tf.transpose(t, [2, 3, 1, 0]);
    case 'conv2d-matmul': {
      const [o, i, h, w] = t.shape;
      return tf.reshape(tf.transpose(t, [2, 3, 1, 0]), [h * w * i, o]);
    }
  }
}

/** Inverse of fromTorch: our layout back to PyTorch's. `torchShape` disambiguates conv2d-matmul. */
export function toTorch(t: tf.Tensor, layout: Layout, torchShape: readonly number[]): tf.Tensor {
  switch (layout) {
    case 'plain': return t.clone();
    case 'linear': return tf.transpose(t, [1, 0]);
    case 'conv2d': return tf.transpose(t, [3, 2, 0, 1]);
    case 'conv2d-matmul': {
      const [o, i, h, w] = torchShape;
      return tf.tidy(() => tf.transpose(tf.reshape(t, [h, w, i, o]), [3, 2, 0, 1])); // the reshape is freed
    }
  }
}
