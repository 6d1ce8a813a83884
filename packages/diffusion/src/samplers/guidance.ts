// Classifier-free guidance on ALL latent channels (LightningDiT's/SiT's forward_with_cfg guide only the
// first 3, a DiT leftover; see the README), with REPA's guidance interval and piecewise scales, the
// conditional and unconditional halves in one batched forward.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '@fae/core';
import { modelTime } from '../flow-matching.js';
import type { VelocityModel } from '../velocity-model.js';
import type { VelocityFn } from './types.js';

/** Scale `scale` for noise levels s in [sMin, sMax] (inclusive; s = 1 noise). */
export interface GuidanceSegment {
  sMin: number;
  sMax: number;
  scale: number;
}

export interface GuidanceOptions {
  /** v = v_uncond + scale (v_cond - v_uncond). A number, or segments (first match wins; none: 1). */
  scale: number | GuidanceSegment[];
  /** Guide only while s is in [low, high] (REPA's guidance_low / guidance_high); elsewhere scale 1. */
  interval?: [number, number];
}

/**
 * The FAE paper's main-results schedule (Appendix D, noise level s = 1 noise): 0.9 for s in [0.9, 1],
 * 2.5 for s in [0, 0.7]. The middle part (0.7, 0.9) is lost from the paper's text; here it is 1 (no
 * guidance), the most plausible reading.
 */
export const FAE_PAPER_GUIDANCE: GuidanceOptions = {
  scale: [
    { sMin: 0.9, sMax: 1, scale: 0.9 },
    { sMin: 0, sMax: 0.7, scale: 2.5 },
  ],
};

/** The guidance scale at noise level s (1 = no guidance). */
export function guidanceScaleAt(g: GuidanceOptions | null | undefined, s: number): number {
  if (!g) return 1;
  if (g.interval && (s < g.interval[0] || s > g.interval[1])) return 1;
  if (typeof g.scale === 'number') return g.scale;
  const seg = g.scale.find((p) => s >= p.sMin && s <= p.sMax);
  return seg ? seg.scale : 1;
}

/**
 * dx/ds (noise-level time) of `model` for `labels` [B] with guidance. A step whose scale is 1 runs the
 * conditional half only; otherwise [x; x] with [labels; null] go through one forward of batch 2B.
 */
export function guidedVelocity(model: VelocityModel, labels: tf.Tensor, guidance?: GuidanceOptions | null): VelocityFn {
  const needsNull = guidance && (typeof guidance.scale === 'number' ? guidance.scale !== 1 : guidance.scale.some((p) => p.scale !== 1));
  if (needsNull && model.nullClass === null) {
    throw new ConfigError('guidance', 'the model has no null class (built with class_dropout_prob = 0), so it cannot be guided');
  }
  const sign = model.timeConvention === 'data-at-1' ? -1 : 1; // dx/ds = -dx/dt when t = 1 - s
  return (x: tf.Tensor, s: number, guideAt: number) => tf.tidy(() => {
    const b = x.shape[0];
    const t = modelTime(s, model.timeConvention);
    const w = guidanceScaleAt(guidance, guideAt);
    let v: tf.Tensor;
    if (w === 1) v = model.forward(x, tf.fill([b], t), labels);
    else {
      const xx = tf.concat([x, x], 0); // [2B, h, w, c]
      const yy = tf.concat([tf.cast(labels, 'int32'), tf.fill([b], model.nullClass!, 'int32')], 0); // [2B]
      const out = model.forward(xx, tf.fill([2 * b], t), yy); // [2B, h, w, c]
      const [cond, uncond] = tf.split(out, 2, 0);
      v = tf.add(uncond, tf.mul(tf.sub(cond, uncond), w)); // every channel
    }
    return sign === 1 ? v : tf.neg(v);
  });
}
