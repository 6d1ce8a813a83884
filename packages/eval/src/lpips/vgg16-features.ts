// torchvision's VGG16 `features` (13 convolutions 3x3 pad 1 + ReLU, 5 max pools 2x2), with its
// state-dict keys `features.{0,2,5,7,10,12,14,17,19,21,24,26,28}.{weight,bias}`, returning the five
// activations LPIPS uses: relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 (64, 128, 256, 512, 512 channels).
import * as tf from '@tensorflow/tfjs-core';
import { Conv2d, Module, maxPool2dNhwc } from '@fae/core';

/** torchvision vgg16().features layout: conv index -> channels; 'M' = max pool (index skipped). */
const VGG16_CFG: Array<number | 'M'> = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512];
/** Index (in torchvision's Sequential) of the ReLU after which each LPIPS slice ends. */
const SLICE_ENDS = [3, 8, 15, 22, 29];

export class Vgg16Features extends Module {
  private readonly layers: Array<{ index: number; conv: Conv2d | null }> = [];
  constructor() {
    super();
    let index = 0;
    let inC = 3;
    for (const v of VGG16_CFG) {
      if (v === 'M') {
        this.layers.push({ index, conv: null });
        index += 1;
      } else {
        this.layers.push({ index, conv: this.addModule(String(index), new Conv2d(inC, v, 3, { padding: 1 })) });
        inC = v;
        index += 2; // conv, ReLU
      }
    }
  }

  /** x: [B, H, W, 3] (already scaled as the caller's network expects) -> the 5 LPIPS activations, NHWC. */
  forward(x: tf.Tensor): tf.Tensor[] {
    return tf.tidy(() => {
      const outs: tf.Tensor[] = [];
      let h = x;
      for (const { index, conv } of this.layers) {
        h = conv ? tf.relu(conv.forward(h)) : maxPool2dNhwc(h, 2, { stride: 2 }); // conv: [B, H, W, C]; pool: [B, H/2, W/2, C]
        if (conv && SLICE_ENDS.includes(index + 1)) outs.push(h);
      }
      return outs;
    });
  }
}
