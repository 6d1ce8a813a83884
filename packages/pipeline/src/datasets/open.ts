// openDataset(spec): 'mnist' / 'mnist:train' / 'mnist:heldOut', tar shards (a .tar, a brace pattern,
// a folder of .tar files), or an image folder.
import type { ImageDataset } from './dataset.js';
import { InputDataError } from './errors.js';
import { ImageFolderDataset } from './image-folder.js';
import { mnistDataset } from './mnist.js';
import { WebDataset } from './webdataset.js';
import { nodeFsPromises } from '../node-fs.js';

export async function openDataset(spec: string): Promise<ImageDataset> {
  const m = /^mnist(?::(train|heldOut|all))?$/.exec(spec);
  if (m) return mnistDataset({ split: (m[1] as 'train' | 'heldOut' | 'all') ?? 'train' });
  if (/\.tar$|\{\d+\.\.\d+\}/.test(spec) || spec.includes(',')) return WebDataset.open(spec);
  const fs = await nodeFsPromises(spec);
  const st = await fs.stat(spec).catch(() => null);
  if (!st) throw new InputDataError(spec, 'no such file or folder (give an image folder, .tar shards or "mnist")');
  if (st.isDirectory()) {
    const names = await fs.readdir(spec);
    if (names.some((n) => n.endsWith('.tar')) && !names.some((n) => /\.(png|jpe?g)$/i.test(n))) return WebDataset.open(spec);
    return ImageFolderDataset.open(spec);
  }
  throw new InputDataError(spec, 'not a folder or a .tar shard');
}
