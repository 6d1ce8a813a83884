// Activations with the exact PyTorch definitions.
import * as tf from '@tensorflow/tfjs-core';

/** GELU, exact: 0.5 x (1 + erf(x / sqrt 2)) (torch.nn.GELU(), HF 'gelu'). */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))));
}

/** GELU, tanh approximation (torch GELU(approximate='tanh'), HF 'gelu_pytorch_tanh'). */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
    return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(inner)));
  });
}

/** SiLU / swish: x * sigmoid(x). */
export function silu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(x)));
}

export type ActivationName = 'gelu' | 'gelu_tanh' | 'gelu_pytorch_tanh' | 'gelu_new' | 'silu' | 'swish' | 'relu' | 'tanh' | 'identity';

/** Activation by the names configs use (HF `hidden_act` values included). */
export function activation(name: ActivationName | string): (x: tf.Tensor) => tf.Tensor {
  switch (name) {
    case 'gelu': return gelu;
    case 'gelu_tanh':
    case 'gelu_pytorch_tanh':
    case 'gelu_new': return geluTanh;
    case 'silu':
    case 'swish': return silu;
    case 'relu': return (x) => tf.relu(x);
    case 'tanh': return (x) => tf.tanh(x);
    case 'identity': return (x) => tf.clone(x);
    default: throw new Error(`unknown activation '${name}' (known: gelu, gelu_tanh, gelu_pytorch_tanh, gelu_new, silu, swish, relu, tanh, identity)`);
  }
}
