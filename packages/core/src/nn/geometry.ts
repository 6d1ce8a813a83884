// One naming for the shapes that cross packages (every tensor NHWC at a package boundary):
//   features  [B, grid, grid, featureDim]       frozen encoder -> adapter; feature decoder -> pixel decoder
//   latents   [B, grid, grid, latentChannels]   adapter -> generators (LightningDiT, TarFlow) -> decoders
//   images    [B, imageSize, imageSize, 3]      values in [0, 1]
// Each model's constructor config keeps the name of its reference implementation (LightningDiT's
// `in_channels` / `input_size`, TARFlow's `img_size`, RAE's `hidden_size`), so published configs load;
// the models expose the shared names as getters (FeatureShaped / LatentShaped) and callers wire
// components together through those.
import { ConfigError } from '../errors.js';

/** A component that consumes or produces patch features [B, grid, grid, featureDim]. */
export interface FeatureShaped {
  /** Tokens per side of the feature map. */
  readonly grid: number;
  /** Feature width D (the frozen encoder's hidden size). */
  readonly featureDim: number;
}

/** A component that consumes or produces latents [B, grid, grid, latentChannels]. */
export interface LatentShaped {
  readonly grid: number;
  /** Latent channels c. */
  readonly latentChannels: number;
}

/** The shapes of one FAE: what every part must agree on. */
export interface FaeGeometry {
  grid: number;
  featureDim: number;
  latentChannels: number;
  imageSize?: number;
}

/**
 * Checks that parts agree on every shape they both declare (ConfigError naming both parts and the
 * first field that differs). Parts are named `{ name: shapes }` pairs, e.g. { adapter, dit }.
 */
export function checkGeometry(parts: Record<string, Partial<FaeGeometry>>): Partial<FaeGeometry> {
  const agreed: Partial<FaeGeometry> = {};
  const from: Partial<Record<keyof FaeGeometry, string>> = {};
  for (const [name, shapes] of Object.entries(parts)) {
    for (const key of ['grid', 'featureDim', 'latentChannels', 'imageSize'] as const) {
      const v = shapes[key];
      if (v === undefined) continue;
      if (agreed[key] !== undefined && agreed[key] !== v) {
        throw new ConfigError(`${from[key]} / ${name}`, `${key} differs: ${from[key]} has ${agreed[key]}, ${name} has ${v}`);
      }
      agreed[key] = v;
      from[key] = name;
    }
  }
  return agreed;
}
