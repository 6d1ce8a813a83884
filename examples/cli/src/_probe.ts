import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@fae/core';
const info = await initBackend(process.argv[2] ?? 'wasm');
console.log(JSON.stringify(info));
const x = tf.variable(tf.randomNormal([4, 4]));
const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.relu(a), tf.sigmoid(a))))(x);
console.log(g.shape, (await g.data())[0]);
