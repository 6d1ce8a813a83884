// The gradients of Sum and Mean, as tfjs-core 4.22 defines them (dx = broadcast dy, divided by the
// reduced size for Mean) but with the all-ones tensor made by the backend (`tf.fill`, a GPU kernel on
// webgpu) instead of `tf.ones`, which builds x.size ones in a JS array that the backend then uploads.
// For a loss `mean(x)` over a 64x256x768 activation that was 42 ms of CPU and a 50 MB upload in every
// backward pass on the H100 (BENCHMARKS.md, issue #18 CPU profile). Same operations on the same
// values, so the same bits on every backend.
import * as tf from '@tensorflow/tfjs-core';

/** dy broadcast back over x's shape: dy reshaped with the reduced axes kept as 1, times backend-made ones. */
function broadcastDy(dy: tf.Tensor, x: tf.Tensor, axes: number[]): tf.Tensor {
  const shape = x.shape.slice();
  for (const a of axes) shape[a] = 1;
  return tf.mul(tf.reshape(dy, shape), tf.fill(x.shape, 1, 'float32'));
}

const reducedAxes = (x: tf.Tensor, attrs: unknown) => tf.util.parseAxisParam((attrs as { axis: number | number[] }).axis, x.shape);

export function registerReduceGradients(): void {
  tf.registerGradient({
    kernelName: 'Sum',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const derX = broadcastDy(dy as tf.Tensor, x, reducedAxes(x, attrs));
      return { x: () => derX };
    },
  });
  tf.registerGradient({
    kernelName: 'Mean',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const axes = reducedAxes(x, attrs);
      const reduceSize = axes.reduce((n, a) => n * x.shape[a], 1);
      return { x: () => tf.div(broadcastDy(dy as tf.Tensor, x, axes), reduceSize) };
    },
  });
}
