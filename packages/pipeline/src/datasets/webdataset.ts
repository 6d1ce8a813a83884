// Tar shards in the WebDataset layout as a dataset (Node): each sample is the group of consecutive
// members sharing a key (the path up to the first dot of the file name), e.g.
//   n01440764_10026.jpg  n01440764_10026.cls        -> image + integer label
// Image: .png / .jpg / .jpeg; label: .cls (an integer as text), .label, or .json with "label" / "cls".
// Shards: one .tar, a folder of .tar files, a brace pattern `train-{000000..000146}.tar`, or a comma list.
import { ConfigError, decodeImage } from '@fae/core';
import type { DatasetItem, ImageDataset } from './dataset.js';
import { InputDataError } from './errors.js';
import { indexTar, readTarMember, type TarMember } from './tar.js';
import { nodeFsPromises } from '../node-fs.js';

interface Sample {
  shard: string;
  key: string;
  image: TarMember;
  label: number;
}

/** Expands `a-{000..012}.tar` brace ranges (zero padding kept) and comma lists. */
export function expandShards(spec: string): string[] {
  const out: string[] = [];
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(.*)\{(\d+)\.\.(\d+)\}(.*)$/.exec(part);
    if (!m) {
      out.push(part);
      continue;
    }
    const [, pre, a, b, post] = m;
    const width = a.length;
    for (let i = Number(a); i <= Number(b); i++) out.push(...expandShards(`${pre}${String(i).padStart(width, '0')}${post}`));
  }
  return out;
}

const IMAGE = /\.(png|jpe?g)$/i;

export class WebDataset implements ImageDataset {
  private constructor(readonly name: string, private readonly samples: Sample[], readonly classes: string[]) {}

  get size(): number {
    return this.samples.length;
  }

  /** Indexes every shard (headers only). */
  static async open(spec: string): Promise<WebDataset> {
    const fs = await nodeFsPromises(spec);
    let shards = expandShards(spec);
    if (shards.length === 1) {
      const st = await fs.stat(shards[0]).catch(() => null);
      if (st?.isDirectory()) shards = (await fs.readdir(shards[0])).filter((f) => f.endsWith('.tar')).sort().map((f) => `${shards[0].replace(/[\\/]+$/, '')}/${f}`);
    }
    if (!shards.length) throw new InputDataError(spec, 'no .tar shards found');
    const samples: Sample[] = [];
    for (const shard of shards) {
      const members = await indexTar(shard);
      const groups = new Map<string, { image?: TarMember; labelMember?: TarMember; ext?: string }>();
      for (const m of members) {
        const base = m.name.split('/').pop()!;
        const dot = base.indexOf('.');
        if (dot <= 0) continue;
        const key = `${m.name.slice(0, m.name.length - base.length)}${base.slice(0, dot)}`;
        const ext = base.slice(dot + 1).toLowerCase();
        const g = groups.get(key) ?? {};
        if (IMAGE.test(base) && !g.image) g.image = m;
        else if (ext === 'cls' || ext === 'label' || ext === 'json') {
          g.labelMember = m;
          g.ext = ext;
        }
        groups.set(key, g);
      }
      for (const [key, g] of groups) {
        if (!g.image) continue;
        let label = 0;
        if (g.labelMember) {
          const txt = new TextDecoder().decode(await readTarMember(shard, g.labelMember)).trim();
          const v = g.ext === 'json' ? (() => {
            try {
              const j = JSON.parse(txt);
              return j.label ?? j.cls;
            } catch {
              return NaN;
            }
          })() : Number(txt);
          if (!Number.isInteger(Number(v)) || Number(v) < 0) throw new InputDataError(`${shard}: ${g.labelMember.name}`, `expected a non-negative integer label, found ${JSON.stringify(txt.slice(0, 40))}`);
          label = Number(v);
        }
        samples.push({ shard, key, image: g.image, label });
      }
    }
    if (!samples.length) throw new InputDataError(spec, 'the shards hold no samples with a .png/.jpg/.jpeg image');
    const numClasses = Math.max(...samples.map((s) => s.label)) + 1;
    return new WebDataset(spec, samples, Array.from({ length: numClasses }, (_, i) => String(i)));
  }

  async get(index: number): Promise<DatasetItem> {
    const s = this.samples[index];
    if (!s) throw new ConfigError(this.name, `item ${index} outside 0..${this.size - 1}`);
    const where = `${s.shard}: ${s.image.name}`;
    const bytes = await readTarMember(s.shard, s.image);
    try {
      return { key: where, label: s.label, image: decodeImage(bytes, where) };
    } catch (e) {
      throw new InputDataError(where, `cannot decode as PNG or JPEG (${(e as Error).message})`, e);
    }
  }
}
