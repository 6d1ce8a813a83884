// The FAE paper's two sampling recipes as named presets (Appendix D, "Sampler / Steps / Guidance" rows
// and the note "The main results uses timesteps shift=0.4"), one call to use either:
//     const z = await samplePreset('fae-paper-sde', { model, labels });          // [B, h, w, c]
//
// Where the shift goes, and why (the paper gives the value, not the place):
// - The sampler rows (Euler-Maruyama 250 steps without CFG; Euler 250 steps with a guidance interval)
//   are REPA's `samplers.py` (sihyun-yu/REPA): `euler_maruyama_sampler` (grid linspace(1, 0.04, n) then
//   a deterministic mean step to 0, g^2 = 2t) and `euler_sampler` (grid linspace(1, 0, n + 1)), with
//   CFG only for `guidance_low <= t_cur <= guidance_high`. REPA's samplers have no shift at all.
// - "Shift 0.4" is LightningDiT's parameter (hustvl/LightningDiT `transport/integrators.py`, class
//   `ode.__init__`: t' = k t / (1 + (k - 1) t) on its own time, t = 0 noise; released config
//   `configs/lightningdit_xl_vavae_f16d32.yaml` `sample.timestep_shift: 0.3`, fed by `inference.py`
//   to `Sampler.sample_ode(timestep_shift=...)`). On REPA's noise level s = 1 - t this is the SD3 shift
//   a = 1 / k: 0.4 -> a = 2.5 (see flow-matching.ts).
// - LightningDiT shifts only its ODE grid: its `sde` integrator and `Sampler.sample_sde`
//   (`transport/transport.py`) take no shift. The paper's Table 2 row "FAE w/ timestep shift, no CFG"
//   is nevertheless sampled with Euler-Maruyama (Appendix D: "Euler-Maruyama (w/o CFG)"), so its
//   numbers need the shift on the SDE grid too: both presets shift their grid by a = 2.5. On the SDE
//   grid the levels are uniform in unshifted time between 1 and unshift(0.04) and the last,
//   deterministic step still spans REPA's 0.04 (sdeTimesteps).
// - The guidance interval is decided on the noise level actually fed to the model at a step's start
//   (REPA: `t_cur` of the grid; LightningDiT `forward_with_cfg`: `t[0]` of its shifted grid), i.e. on
//   the SHIFTED level: the three segments (0.9 for s in [0.9, 1], 1 in between, 2.5 for s in [0, 0.7];
//   FAE_PAPER_GUIDANCE) are in shifted s.
// - "timeshift, loss weighting and diffusion trajectory changes" (paper §5) puts the same shift on the
//   training noise levels; `trainingShift` records it for flowMatchingLoss / trainLightningDiT.
import type * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '@fae/core';
import { sd3ShiftFromLightningDiT } from './flow-matching.js';
import { FAE_PAPER_GUIDANCE, type GuidanceOptions } from './samplers/guidance.js';
import { sample, type SampleOptions } from './samplers/sample.js';
import { odeTimesteps, sdeTimesteps } from './samplers/timesteps.js';

export interface SamplingPreset {
  sampler: 'euler' | 'euler-maruyama';
  steps: number;
  /** SD3-style shift factor of the sampling grid (the paper's LightningDiT-form 0.4 = 2.5). */
  shift: number;
  guidance: GuidanceOptions | null;
  /** SD3-style shift of the training noise levels the preset's numbers assume (flowMatchingLoss `shift`). */
  trainingShift: number;
  description: string;
}

/** The paper's "timesteps shift = 0.4" (LightningDiT form) as the SD3 factor this package uses: 2.5. */
export const FAE_PAPER_SHIFT = sd3ShiftFromLightningDiT(0.4);

export const SAMPLING_PRESETS = {
  'fae-paper-sde': {
    sampler: 'euler-maruyama',
    steps: 250,
    shift: FAE_PAPER_SHIFT,
    guidance: null,
    trainingShift: FAE_PAPER_SHIFT,
    description: "FAE Table 2 'w/ timestep shift, no CFG': REPA's Euler-Maruyama, 250 steps, shift 0.4 (SD3 2.5), no guidance",
  },
  'fae-paper-ode-cfg': {
    sampler: 'euler',
    steps: 250,
    shift: FAE_PAPER_SHIFT,
    guidance: FAE_PAPER_GUIDANCE,
    trainingShift: FAE_PAPER_SHIFT,
    description: "FAE Table 2 'w/ timestep shift, with CFG': REPA's Euler ODE, 250 steps, shift 0.4 (SD3 2.5), guidance 0.9 / 1 / 2.5 on s in [0.9,1] / (0.7,0.9) / [0,0.7]",
  },
} as const satisfies Record<string, SamplingPreset>;

export type SamplingPresetName = keyof typeof SAMPLING_PRESETS;

/** The preset of a name; a typed error lists the known names. */
export function samplingPreset(name: string): SamplingPreset {
  const p = (SAMPLING_PRESETS as Record<string, SamplingPreset>)[name];
  if (!p) throw new ConfigError('sampling presets', `unknown sampling preset '${name}' (known: ${Object.keys(SAMPLING_PRESETS).join(', ')})`);
  return p;
}

/** The noise levels (s = 1 noise -> 0 data, steps + 1 of them) a preset's sampler visits. */
export function presetTimesteps(name: string): Float64Array {
  const p = samplingPreset(name);
  return p.sampler === 'euler' ? odeTimesteps(p.steps, p.shift) : sdeTimesteps(p.steps, p.shift);
}

/** sample() options minus what the preset decides; `steps` may be overridden (e.g. for a quick look). */
export type PresetSampleOptions = Omit<SampleOptions, 'sampler' | 'shift' | 'guidance' | 'steps'> & { steps?: number };

/** Latents [B, h, w, c] from `opts.model` with a named preset: `samplePreset('fae-paper-ode-cfg', { model, labels })`. */
export function samplePreset(name: SamplingPresetName | string, opts: PresetSampleOptions): Promise<tf.Tensor> {
  const p = samplingPreset(name);
  return sample({ ...opts, steps: opts.steps ?? p.steps, sampler: p.sampler, shift: p.shift, guidance: p.guidance });
}
