// An image folder as a dataset (Node):
//   <root>/<class>/**/*.{png,jpg,jpeg}   class sub-folders (ImageNet layout): label = sorted class index
//   <root>/*.{png,jpg,jpeg} + labels file  a flat folder; labels.txt / labels.csv / labels.tsv lines
//                                          "<file>,<label>" (or tab / space separated), label a class
//                                          name or an integer; without a labels file every label is 0
// Images of any size, grey / RGB / RGBA (PNG or JPEG) decode through @fae/core's codecs.
import { ConfigError, decodeImage } from '@fae/core';
import { InputDataError } from './errors.js';
import type { DatasetItem, ImageDataset } from './dataset.js';
import { nodeFsPromises } from '../node-fs.js';

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg'];
const LABEL_FILES = ['labels.txt', 'labels.csv', 'labels.tsv'];

const isImage = (name: string) => IMAGE_EXTENSIONS.some((e) => name.toLowerCase().endsWith(e));

async function walk(dir: string): Promise<string[]> {
  const fs = await nodeFsPromises(dir);
  const out: string[] = [];
  const entries = (await fs.readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const p = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...(await walk(p)));
    else if (e.isFile() && isImage(e.name)) out.push(p);
  }
  return out;
}

export interface ImageFolderOptions {
  /** A labels file for a flat folder (default: labels.txt / .csv / .tsv in the folder, when present). */
  labelsFile?: string;
}

export class ImageFolderDataset implements ImageDataset {
  private constructor(readonly name: string, readonly files: string[], readonly labels: Int32Array, readonly classes: string[]) {}

  get size(): number {
    return this.files.length;
  }

  static async open(root: string, opts: ImageFolderOptions = {}): Promise<ImageFolderDataset> {
    const fs = await nodeFsPromises(root);
    const dir = root.replace(/[\\/]+$/, '');
    const st = await fs.stat(dir).catch(() => null);
    if (!st?.isDirectory()) throw new InputDataError(root, 'not a folder (give a folder of class sub-folders of PNG/JPEG images, or a flat folder with labels.txt)');
    const entries = await fs.readdir(dir, { withFileTypes: true });
    const classDirs = entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
    const flatImages = entries.filter((e) => e.isFile() && isImage(e.name)).map((e) => e.name).sort();
    if (classDirs.length && !flatImages.length && !opts.labelsFile) {
      const files: string[] = [];
      const labels: number[] = [];
      for (const [label, cls] of classDirs.entries()) {
        const inClass = await walk(`${dir}/${cls}`);
        files.push(...inClass);
        for (let i = 0; i < inClass.length; i++) labels.push(label);
      }
      if (!files.length) throw new InputDataError(root, `no PNG/JPEG images in its sub-folders (${classDirs.slice(0, 5).join(', ')}${classDirs.length > 5 ? ', ...' : ''})`);
      return new ImageFolderDataset(dir, files, Int32Array.from(labels), classDirs);
    }
    if (!flatImages.length) throw new InputDataError(root, 'no PNG/JPEG images (give a folder of class sub-folders of images, or a flat folder of images with labels.txt)');
    const labelsPath = opts.labelsFile ?? LABEL_FILES.map((f) => `${dir}/${f}`).find((p) => entries.some((e) => `${dir}/${e.name}` === p));
    if (!labelsPath) return new ImageFolderDataset(dir, flatImages.map((f) => `${dir}/${f}`), new Int32Array(flatImages.length), ['all']);
    const byFile = parseLabelsFile(await fs.readFile(labelsPath, 'utf8'), labelsPath);
    const names = [...new Set(byFile.values())];
    const numeric = names.every((n) => /^\d+$/.test(n));
    const classes = numeric ? Array.from({ length: Math.max(...names.map(Number)) + 1 }, (_, i) => String(i)) : names.sort();
    const files: string[] = [];
    const labels: number[] = [];
    for (const f of flatImages) {
      const l = byFile.get(f);
      if (l === undefined) throw new InputDataError(`${dir}/${f}`, `has no line in ${labelsPath}`);
      files.push(`${dir}/${f}`);
      labels.push(numeric ? Number(l) : classes.indexOf(l));
    }
    return new ImageFolderDataset(dir, files, Int32Array.from(labels), classes);
  }

  async get(index: number): Promise<DatasetItem> {
    const path = this.files[index];
    if (path === undefined) throw new ConfigError(this.name, `item ${index} outside 0..${this.size - 1}`);
    const fs = await nodeFsPromises(path);
    let bytes: Uint8Array;
    try {
      const buf = await fs.readFile(path);
      bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (e) {
      throw new InputDataError(path, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, e);
    }
    try {
      return { key: path, label: this.labels[index], image: decodeImage(bytes, path) };
    } catch (e) {
      throw new InputDataError(path, `cannot decode as PNG or JPEG (${(e as Error).message})`, e);
    }
  }
}

/** "<file>,<label>" lines (comma, tab or whitespace; '#' comments and a "file,label" header skipped). */
export function parseLabelsFile(text: string, source: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const parts = line.split(/\s*[,\t]\s*|\s+/);
    if (parts.length < 2) throw new InputDataError(source, `line ${i + 1}: expected "<file>,<label>", found ${JSON.stringify(line)}`);
    if (i === 0 && /^(file|filename|path|image)$/i.test(parts[0])) continue;
    out.set(parts[0].split(/[\\/]/).pop()!, parts[1]);
  }
  return out;
}
