// The whole-model workloads of the benchmarks, in ONE place for the tfjs side: which preset, batch
// and iteration counts each target (gpu, cpu) and mode (full, --quick) runs. `modelShapes()` turns a
// spec into the flat description both sides build from (snake_case, every dimension spelled out);
// py/model_shapes.py holds the PyTorch side's copy (SHAPES); torch_bench.py checks it against this file's JSON:
//   node --import tsx --import ./tools/bench/src/use-sources.mjs tools/bench/src/model-shapes.ts > model-shapes.json
//   python3 tools/bench/py/torch_bench.py --check-shapes model-shapes.json
import { PRESETS as ENCODER_PRESETS, dinov2FfnHidden, parameterCountOf as encoderParameterCount, parseDinov2Config } from '@fae/encoders';
import { ADAPTER_PRESETS, adapterParameterCount, resolveAdapterConfig, type SingleAttentionEncoderConfig } from '@fae/adapter';
import {
  FEATURE_DECODER_PRESETS, PIXEL_DECODER_PRESETS, featureDecoderMlpHidden, featureDecoderParameterCount, pixelDecoderParameterCount,
  pixelPatchSize, resolveFeatureDecoderConfig, resolvePixelDecoderConfig, type FeatureDecoderConfig, type PixelDecoderConfig,
} from '@fae/decoders';
import { PRESETS as DIFFUSION_PRESETS, lightningDiTConfig, lightningDiTSwiGLUHidden, parameterCountOf as ditParameterCount, type LightningDiTConfig } from '@fae/diffusion';
import { PRESETS as FLOW_PRESETS, countParameters as flowParameterCount, resolveConfig as resolveFlowConfig, type TarFlowConfig } from '@fae/flow';

export type Target = 'gpu' | 'cpu';
export type Mode = 'full' | 'quick';

interface Timing {
  warmup: number;
  iters: number;
}
export interface Dinov2EncodeSpec extends Timing {
  kind: 'dinov2_encode';
  label: string;
  /** A config.json object (model_type dinov2). */
  configJson: Record<string, unknown>;
  image: number;
  batch: number;
}
export interface FaeDecodeSpec extends Timing {
  kind: 'fae_decode';
  label: string;
  featureDecoder: FeatureDecoderConfig;
  pixelDecoder: PixelDecoderConfig;
  batch: number;
}
export interface DitStepSpec extends Timing {
  kind: 'dit_step';
  label: string;
  config: LightningDiTConfig;
  batch: number;
  /** Constant CFG scale (!= 1, so every step runs one forward at batch 2B). */
  cfgScale: number;
}
export interface TarflowSampleSpec extends Timing {
  kind: 'tarflow_sample';
  label: string;
  config: TarFlowConfig;
  batch: number;
}
export interface FaeTrainSpec extends Timing {
  kind: 'fae_train';
  label: string;
  adapter: SingleAttentionEncoderConfig;
  featureDecoder: FeatureDecoderConfig;
  batch: number;
  lr: number;
  beta: number;
}
export type ModelSpec = Dinov2EncodeSpec | FaeDecodeSpec | DitStepSpec | TarflowSampleSpec | FaeTrainSpec;

// ------------------------------------------------------------------------------------------------
// Specs
// ------------------------------------------------------------------------------------------------
const need = <T>(table: Record<string, T>, name: string): T => {
  const v = table[name];
  if (!v) throw new Error(`bench: unknown preset '${name}'`);
  return v;
};

/** TARFlow on FAE latents (16x16x32, patch 1, 256 tokens), 768 wide, 4 blocks x 4 layers: ~117M. Not a package preset. */
export const TARFLOW_FAE_BENCH: TarFlowConfig = {
  inChannels: 32, imgSize: 16, patchSize: 1, channels: 768, numBlocks: 4, layersPerBlock: 4, headDim: 64, numClasses: 1000,
};

function dinov2(preset: string, batch: number, t: Timing): Dinov2EncodeSpec {
  const p = need(ENCODER_PRESETS, preset);
  const size = { 'dinov2-small': 'S', 'dinov2-base': 'B', 'dinov2-large': 'L', 'dinov2-giant': 'g' }[preset] ?? preset;
  return { kind: 'dinov2_encode', label: `DINOv2-${size}/${p.patchSize} (${preset})`, configJson: p.configJson, image: p.imageSize, batch, ...t };
}

/**
 * --quick: tiny configs of the same architectures at batch 1 (a smoke run of the same code paths),
 * with the full configs' head widths (64; 72 for LightningDiT-XL; 256 for the adapter), so the same
 * attention kernel variants run.
 */
function quickSpecs(): ModelSpec[] {
  const t = { warmup: 1, iters: 2 };
  const tinyDino = { model_type: 'dinov2', hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 1, patch_size: 14, image_size: 518, mlp_ratio: 4, layer_norm_eps: 1e-6 };
  const tinyFd: Partial<FeatureDecoderConfig> = { latentChannels: 8, outputDim: 64, depth: 2, heads: 1, gridSize: 4 };
  return [
    { kind: 'dinov2_encode', label: 'DINOv2 tiny', configJson: tinyDino, image: 56, batch: 1, ...t },
    {
      kind: 'fae_decode', label: 'tiny', batch: 1, ...t,
      featureDecoder: resolveFeatureDecoderConfig(tinyFd),
      pixelDecoder: resolvePixelDecoderConfig({ inputDim: 64, width: 64, depth: 2, heads: 1, mlpDim: 128, gridSize: 4, imageSize: 32 }),
    },
    {
      kind: 'dit_step', label: 'LightningDiT tiny', batch: 1, cfgScale: 4, ...t,
      config: lightningDiTConfig({ ...need(DIFFUSION_PRESETS, 'LightningDiT-S/1').config, inputSize: 4, inChannels: 8, hiddenSize: 144, depth: 2, numHeads: 2, numClasses: 10 }),
    },
    { kind: 'tarflow_sample', label: 'TARFlow tarflow-tiny', config: need(FLOW_PRESETS, 'tarflow-tiny').config, batch: 1, ...t },
    {
      kind: 'fae_train', label: 'tiny', batch: 1, lr: 1e-4, beta: 1e-6, ...t,
      adapter: resolveAdapterConfig({ inputDim: 64, latentChannels: 8, heads: 1, headDim: 256, gridSize: 4 }),
      featureDecoder: resolveFeatureDecoderConfig(tinyFd),
    },
  ];
}

/** The workloads of a target and mode (issue #10: gpu, issue #11: cpu). */
export function modelSpecs(target: Target, mode: Mode): ModelSpec[] {
  if (mode === 'quick') return quickSpecs();
  if (target === 'gpu') {
    return [
      dinov2('dinov2-base', 32, { warmup: 2, iters: 10 }),
      {
        kind: 'fae_decode', label: 'fae-dinov2-g + fae-dinov2-g-vit-l', batch: 8, warmup: 2, iters: 10,
        featureDecoder: need(FEATURE_DECODER_PRESETS, 'fae-dinov2-g').config, pixelDecoder: need(PIXEL_DECODER_PRESETS, 'fae-dinov2-g-vit-l').config,
      },
      { kind: 'dit_step', label: 'LightningDiT-XL/1', config: need(DIFFUSION_PRESETS, 'LightningDiT-XL/1').config, batch: 64, cfgScale: 4, warmup: 1, iters: 5 },
      { kind: 'tarflow_sample', label: 'TARFlow-FAE 117M (bench config)', config: TARFLOW_FAE_BENCH, batch: 32, warmup: 1, iters: 1 }, // ~50 s a pass on tfjs-webgpu (H100)
      {
        kind: 'fae_train', label: 'fae-dinov2-b', batch: 16, lr: 1e-4, beta: 1e-6, warmup: 2, iters: 5,
        adapter: need(ADAPTER_PRESETS, 'fae-dinov2-b').config, featureDecoder: need(FEATURE_DECODER_PRESETS, 'fae-dinov2-b').config,
      },
    ];
  }
  return [
    dinov2('dinov2-small', 1, { warmup: 1, iters: 3 }),
    dinov2('dinov2-small', 8, { warmup: 1, iters: 3 }),
    {
      kind: 'fae_train', label: 'fae-dinov2-s', batch: 4, lr: 1e-4, beta: 1e-6, warmup: 1, iters: 3,
      adapter: need(ADAPTER_PRESETS, 'fae-dinov2-s').config, featureDecoder: need(FEATURE_DECODER_PRESETS, 'fae-dinov2-s').config,
    },
    { kind: 'dit_step', label: 'LightningDiT-S/1', config: need(DIFFUSION_PRESETS, 'LightningDiT-S/1').config, batch: 8, cfgScale: 4, warmup: 1, iters: 3 },
  ];
}

// ------------------------------------------------------------------------------------------------
// The flat shapes (what the PyTorch side builds from), with checks that the architecture variant is
// the one py/torch_models.py implements.
// ------------------------------------------------------------------------------------------------
export type Shapes = Record<string, unknown> & { kind: ModelSpec['kind']; name: string; batch: number; params: number; warmup: number; iters: number };

function variant(ok: boolean, what: string): void {
  if (!ok) throw new Error(`bench: ${what} (py/torch_models.py implements only that variant)`);
}

function featureDecoderShapes(c: FeatureDecoderConfig) {
  variant(c.rope && c.positions === 'sincos' && !c.outProj && c.qkvBias && c.width === c.outputDim, 'feature decoder: RoPE, sin-cos table, no out_proj, qkv bias');
  return { latent: c.latentChannels, grid: c.gridSize, width: c.width, depth: c.depth, heads: c.heads, swiglu_hidden: featureDecoderMlpHidden(c), eps: c.normEps };
}

export function modelShapes(s: ModelSpec): Shapes {
  const t = { warmup: s.warmup, iters: s.iters };
  switch (s.kind) {
    case 'dinov2_encode': {
      const c = parseDinov2Config(s.configJson, s.label);
      variant(c.modelType === 'dinov2' && !c.useSwigluFfn && c.qkvBias && c.hiddenAct === 'gelu', 'DINOv2: no registers, GELU MLP, qkv bias');
      const grid = Math.floor(s.image / c.patchSize);
      return {
        kind: s.kind, name: `${s.label} encode ${s.image}px, batch ${s.batch}`, batch: s.batch, image: s.image, patch: c.patchSize,
        width: c.hiddenSize, depth: c.numHiddenLayers, heads: c.numAttentionHeads, mlp: dinov2FfnHidden(c), pos_grid: c.imageSize / c.patchSize,
        grid, eps: c.layerNormEps, params: encoderParameterCount(c), ...t,
      };
    }
    case 'fae_decode': {
      const f = s.featureDecoder;
      const p = s.pixelDecoder;
      variant(p.clsToken && p.inputDim === f.outputDim && p.gridSize === f.gridSize, 'pixel decoder: CLS token, input = feature decoder output');
      return {
        kind: s.kind, name: `FAE decode ${s.label}, ${f.gridSize}x${f.gridSize}x${f.latentChannels} -> ${p.imageSize}px, batch ${s.batch}`, batch: s.batch,
        feature_decoder: featureDecoderShapes(f),
        pixel_decoder: { input: p.inputDim, width: p.width, depth: p.depth, heads: p.heads, mlp: p.mlpDim, patch: pixelPatchSize(p), image: p.imageSize, eps: p.layerNormEps },
        params: featureDecoderParameterCount(f) + pixelDecoderParameterCount(p), ...t,
      };
    }
    case 'dit_step': {
      const c = s.config;
      variant(c.useSwiglu && c.useRope && c.useRmsnorm && !c.useQknorm && !c.learnSigma && !c.woShift && c.classDropoutProb > 0, 'LightningDiT: SwiGLU, RoPE, RMSNorm, no q/k norm, null class');
      variant(c.timeConvention === 'data-at-1', 'LightningDiT: data-at-1 time');
      return {
        kind: s.kind, name: `${s.label} sampling step (Euler, CFG), batch ${s.batch} (forward ${2 * s.batch})`, batch: s.batch, forward_batch: 2 * s.batch,
        cfg_scale: s.cfgScale, size: c.inputSize, channels: c.inChannels, patch: c.patchSize, width: c.hiddenSize, depth: c.depth, heads: c.numHeads,
        swiglu_hidden: lightningDiTSwiGLUHidden(c.hiddenSize, c.mlpRatio), classes: c.numClasses, params: ditParameterCount(c), ...t,
      };
    }
    case 'tarflow_sample': {
      const c = resolveFlowConfig(s.config);
      variant(c.nvp && !c.rope && !c.condTopOnly && c.numClasses > 0, 'TARFlow: affine, learned positions, class-conditional blocks');
      const tokens = (c.imgSize / c.patchSize) ** 2;
      return {
        kind: s.kind, name: `${s.label} sampling pass, ${c.imgSize}x${c.imgSize}x${c.inChannels} (${tokens} tokens), batch ${s.batch}`, batch: s.batch,
        channels: c.inChannels, size: c.imgSize, patch: c.patchSize, width: c.channels, blocks: c.numBlocks, layers: c.layersPerBlock,
        head_dim: c.headDim, expansion: c.expansion, classes: c.numClasses, params: flowParameterCount(s.config), ...t,
      };
    }
    case 'fae_train': {
      const a = s.adapter;
      variant(a.depth === 1 && a.mlpRatio === 0 && !a.preNorm && a.positions === 'sincos' && a.activation === 'gelu' && a.bias, 'adapter: one attention layer, sin-cos positions, GELU');
      variant(a.inputDim === s.featureDecoder.outputDim && a.latentChannels === s.featureDecoder.latentChannels && a.gridSize === s.featureDecoder.gridSize, 'adapter and feature decoder must match');
      return {
        kind: s.kind, name: `FAE ${s.label} training step (stage Ib), features ${a.gridSize}x${a.gridSize}x${a.inputDim}, batch ${s.batch}`, batch: s.batch,
        grid: a.gridSize, features: a.inputDim, latent: a.latentChannels, adapter: { heads: a.heads, head_dim: a.headDim, logvar_clamp: a.logvarClamp },
        feature_decoder: featureDecoderShapes(s.featureDecoder), lr: s.lr, beta: s.beta,
        params: adapterParameterCount(a) + featureDecoderParameterCount(s.featureDecoder), ...t,
      };
    }
  }
}

/** Every target and mode's shapes, as the PyTorch side checks them (it runs the gpu lists). */
export function allShapes(): Record<string, Shapes[]> {
  const out: Record<string, Shapes[]> = {};
  for (const target of ['gpu', 'cpu'] as const) for (const mode of ['full', 'quick'] as const) out[`${target}_${mode}`] = modelSpecs(target, mode).map(modelShapes);
  return out;
}

if (process.argv[1] && /model-shapes\.[cm]?[jt]s$/.test(process.argv[1])) console.log(JSON.stringify(allShapes(), null, 1));
