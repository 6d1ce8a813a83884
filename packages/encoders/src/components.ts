// Registers the encoder backbones with @fae/core's component registry (a side effect of importing
// the package): Dinov2Model (DINOv2, DINOv2 with registers) and SiglipVisionTransformer (SigLIP,
// fixed-resolution SigLIP2). The stored config is transformers' config.json (snake_case), so an FAE
// component folder and a Hugging Face folder hold the same fields; a Hugging Face folder (config.json
// with model_type, keys possibly under 'dinov2.' or 'vision_model.') loads through the same
// loadComponent call.
import { loadModuleWeights, registerComponent, type OpenedComponent } from '@fae/core';
import { parseDinov2Config, parseSiglipVisionConfig, type Dinov2Config, type SiglipVisionConfig } from './configs.js';
import { Dinov2Model } from './dinov2/dinov2-model.js';
import { modelTypeEntry } from './registry.js';
import { SiglipVisionTransformer } from './siglip/siglip-vision-model.js';
import type { ViTBackbone } from './vit-backbone.js';

export const DINOV2_CLASS = 'Dinov2Model';
export const SIGLIP_VISION_CLASS = 'SiglipVisionTransformer';

/** transformers' config.json fields of a DINOv2 config (what parseDinov2Config reads back). */
export function dinov2ConfigToJson(c: Dinov2Config): Record<string, unknown> {
  const json: Record<string, unknown> = {
    model_type: c.modelType, hidden_size: c.hiddenSize, num_hidden_layers: c.numHiddenLayers, num_attention_heads: c.numAttentionHeads,
    mlp_ratio: c.mlpRatio, hidden_act: c.hiddenAct, layer_norm_eps: c.layerNormEps, image_size: c.imageSize, patch_size: c.patchSize,
    num_channels: c.numChannels, qkv_bias: c.qkvBias, use_swiglu_ffn: c.useSwigluFfn,
  };
  if (c.modelType === 'dinov2_with_registers') json.num_register_tokens = c.numRegisterTokens;
  else json.use_mask_token = c.useMaskToken;
  return json;
}

/** transformers' SiglipVisionConfig fields (what parseSiglipVisionConfig reads back). */
export function siglipVisionConfigToJson(c: SiglipVisionConfig): Record<string, unknown> {
  return {
    model_type: c.modelType, hidden_size: c.hiddenSize, intermediate_size: c.intermediateSize, num_hidden_layers: c.numHiddenLayers,
    num_attention_heads: c.numAttentionHeads, num_channels: c.numChannels, image_size: c.imageSize, patch_size: c.patchSize,
    hidden_act: c.hiddenAct, layer_norm_eps: c.layerNormEps, vision_use_head: c.useHead,
  };
}

/** A Hugging Face folder: build from config.json, load strictly under the checkpoint's key prefix. */
async function loadHuggingFace(opened: OpenedComponent, config: Record<string, unknown>): Promise<ViTBackbone> {
  const where = `${opened.source}/config.json`;
  const entry = modelTypeEntry(config.model_type, where);
  return loadModuleWeights(entry.build(config, where), () => opened.openWeights(), (store) => ({ strict: true, prefix: entry.weightsPrefix(store.keys()) }));
}

registerComponent(DINOV2_CLASS, {
  type: Dinov2Model,
  create: (json: Record<string, unknown>, where) => new Dinov2Model(parseDinov2Config(json, where)),
  configOf: (m: Dinov2Model) => dinov2ConfigToJson(m.config),
  detect: (json) => json.model_type === 'dinov2' || json.model_type === 'dinov2_with_registers',
  load: loadHuggingFace as (o: OpenedComponent, c: Record<string, unknown>) => Promise<Dinov2Model>,
});

registerComponent(SIGLIP_VISION_CLASS, {
  type: SiglipVisionTransformer,
  create: (json: Record<string, unknown>, where) => new SiglipVisionTransformer(parseSiglipVisionConfig(json, where)),
  configOf: (m: SiglipVisionTransformer) => siglipVisionConfigToJson(m.config),
  detect: (json) => json.model_type === 'siglip_vision_model' || json.model_type === 'siglip',
  load: loadHuggingFace as (o: OpenedComponent, c: Record<string, unknown>) => Promise<SiglipVisionTransformer>,
});
