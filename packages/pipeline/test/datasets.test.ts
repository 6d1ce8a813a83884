// Datasets: image folders (class sub-folders; a flat folder with labels.txt), WebDataset tar shards,
// MNIST; seeded shuffling, sharding, transforms (ADM crop, centre crop, squash, flip); typed errors.
import * as tf from '@tensorflow/tfjs-core';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '@fae/testing';
import { encodePng, readImageFile, resizeImage } from '@fae/core';
import {
  ImageFolderDataset, InputDataError, WebDataset, admCenterCrop, applyTransform, epochIndices, expandShards, imageBatches,
  indexTar, mnistDataset, openDataset, parseLabelsFile, readTarMember, writeTar,
} from '@fae/pipeline';
import { patternImage, writeClassFolder } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'fae-pipeline-data-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('datasets', () => {
  let folder: ImageFolderDataset;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    writeClassFolder(join(tmp, 'classes'));
    folder = await ImageFolderDataset.open(join(tmp, 'classes'));
  });

  it('an image folder of class sub-folders: sorted classes as labels, every file decoded to RGB', async () => {
    expect(folder.classes).toEqual(['circle', 'square', 'triangle']);
    expect(folder.size).toBe(24);
    expect(Array.from(folder.labels)).toEqual([...Array(8).fill(0), ...Array(8).fill(1), ...Array(8).fill(2)]);
    const seen = new Set<number>();
    for await (const b of imageBatches(folder, { batchSize: 5, shuffle: false, transform: { imageSize: 16, crop: 'center' } })) {
      expect(b.images.shape.slice(1)).toEqual([16, 16, 3]);
      const v = await b.images.data();
      expect(v.every((x) => x >= 0 && x <= 1)).toBe(true);
      b.labels.forEach((l) => seen.add(l));
      b.images.dispose();
    }
    expect([...seen].sort()).toEqual([0, 1, 2]);
  });

  it('a flat folder with labels.txt (class names or indices); a corrupt image is a typed error naming it', async () => {
    const dir = join(tmp, 'flat');
    mkdirSync(dir);
    for (let i = 0; i < 4; i++) writeFileSync(join(dir, `img${i}.png`), encodePng(patternImage(i % 2, i, 20, 20, 3)));
    writeFileSync(join(dir, 'labels.txt'), 'file,label\nimg0.png,cat\nimg1.png,dog\nimg2.png,cat\nimg3.png,dog\n');
    const ds = await ImageFolderDataset.open(dir);
    expect(ds.classes).toEqual(['cat', 'dog']);
    expect(Array.from(ds.labels)).toEqual([0, 1, 0, 1]);
    expect([...parseLabelsFile('a.png 3\nb.png\t1\n', 'x')]).toEqual([['a.png', '3'], ['b.png', '1']]);
    writeFileSync(join(dir, 'img4.png'), 'not an image');
    writeFileSync(join(dir, 'labels.txt'), 'img0.png,0\nimg1.png,1\nimg2.png,0\nimg3.png,1\nimg4.png,2\n');
    const bad = await ImageFolderDataset.open(dir);
    expect(bad.classes).toEqual(['0', '1', '2']);
    await expect(bad.get(4)).rejects.toThrow(InputDataError);
    await expect(bad.get(4)).rejects.toThrow(/img4\.png: cannot decode/);
    await expect(ImageFolderDataset.open(join(tmp, 'missing'))).rejects.toThrow(/not a folder/);
  });

  it('WebDataset tar shards: samples grouped by key, .cls labels, brace patterns', async () => {
    const dir = join(tmp, 'shards');
    mkdirSync(dir);
    for (let s = 0; s < 2; s++) {
      const files = [];
      for (let i = 0; i < 3; i++) {
        const key = `s${s}/sample${i}`;
        files.push({ name: `${key}.png`, data: encodePng(patternImage(i, i, 12, 12, i === 1 ? 1 : 3)) });
        files.push({ name: `${key}.cls`, data: new TextEncoder().encode(String(i)) });
      }
      writeFileSync(join(dir, `train-${String(s).padStart(3, '0')}.tar`), writeTar(files));
    }
    expect(expandShards(`${dir}/train-{000..001}.tar`)).toEqual([`${dir}/train-000.tar`, `${dir}/train-001.tar`]);
    const members = await indexTar(join(dir, 'train-000.tar'));
    expect(members.map((m) => m.name)).toEqual(['s0/sample0.png', 's0/sample0.cls', 's0/sample1.png', 's0/sample1.cls', 's0/sample2.png', 's0/sample2.cls']);
    expect(new TextDecoder().decode(await readTarMember(join(dir, 'train-000.tar'), members[3]))).toBe('1');
    const ds = await WebDataset.open(`${dir}/train-{000..001}.tar`);
    expect(ds.size).toBe(6);
    expect(ds.classes).toEqual(['0', '1', '2']);
    const item = await ds.get(4);
    expect(item.label).toBe(1);
    expect(item.image.width).toBe(12);
    expect((await openDataset(dir)).size).toBe(6); // a folder of .tar files
  });

  it('shuffling is a seeded permutation per epoch; shards partition it', () => {
    const a = epochIndices(50, { seed: 3, epoch: 1 });
    expect(Array.from(a)).toEqual(Array.from(epochIndices(50, { seed: 3, epoch: 1 })));
    expect(Array.from(a)).not.toEqual(Array.from(epochIndices(50, { seed: 3, epoch: 2 })));
    expect([...a].sort((x, y) => x - y)).toEqual([...Array(50).keys()]);
    const parts = [0, 1, 2].map((index) => Array.from(epochIndices(50, { seed: 3, epoch: 1, shard: { index, count: 3 } })));
    expect(parts.map((p) => p.length)).toEqual([17, 17, 16]);
    expect(parts.flat().sort((x, y) => x - y)).toEqual([...Array(50).keys()]);
    expect(() => epochIndices(10, { shard: { index: 3, count: 3 } })).toThrow(/shard/);
  });

  it('a pass resumed with skip yields the same images and flips as the whole pass', async () => {
    const o = { batchSize: 4, seed: 5, transform: { imageSize: 16, crop: 'resize' as const, flip: true } };
    const all: number[][] = [];
    for await (const b of imageBatches(folder, o)) {
      all.push(Array.from(await b.images.data()));
      b.images.dispose();
    }
    const later: number[][] = [];
    for await (const b of imageBatches(folder, { ...o, skip: 8 })) {
      later.push(Array.from(await b.images.data()));
      b.images.dispose();
    }
    expect(later).toEqual(all.slice(2));
  });

  it('transforms: ADM centre crop (BOX halving, bicubic short side, centre), flips mirror', async () => {
    const big = patternImage(0, 0, 600, 520, 3);
    const c = admCenterCrop(big, 256);
    expect([c.width, c.height]).toEqual([256, 256]);
    // 512 x 512: one BOX halving to 256, then nothing to resize or crop
    const sq = patternImage(2, 1, 512, 512, 3);
    expect(Array.from(admCenterCrop(sq, 256).data)).toEqual(Array.from(resizeImage(sq, { width: 256, height: 256, resample: 'box' }).data));
    const wide = patternImage(1, 0, 40, 20, 3);
    const f = applyTransform(wide, { imageSize: 20, crop: 'center', flip: true }, true);
    const g = applyTransform(wide, { imageSize: 20, crop: 'center', flip: false }, true);
    for (let y = 0; y < 20; y++) for (let x = 0; x < 20; x++) expect(f.float[(y * 20 + x) * 3]).toBe(g.float[(y * 20 + 19 - x) * 3]);
    const squashed = applyTransform(wide, { imageSize: 10, crop: 'resize' }, false);
    expect([squashed.width, squashed.height]).toEqual([10, 10]);
    expect((await readImageFile(join(tmp, 'classes', 'circle', '0.png'))).width).toBe(32);
  });

  it('MNIST: the fixed split as a dataset (9,001 training digits, 999 held out), values unquantised', async () => {
    const train = await mnistDataset({ split: 'train' });
    const held = await mnistDataset({ split: 'heldOut' });
    expect([train.size, held.size]).toEqual([9001, 999]);
    const d = await train.get(0);
    expect(d.image.width).toBe(28);
    expect((await mnistDataset({ split: 'train', limit: 2000 })).size).toBe(2000);
  });
});

describe('image files', () => {
  it('readImages prepares files as the pipeline images and names squashed ones; writeImages round-trips PNG', async () => {
    const { readImages, writeImages } = await import('@fae/pipeline');
    const dir = join(tmp, 'files');
    mkdirSync(dir);
    writeFileSync(join(dir, 'wide.png'), encodePng(patternImage(0, 0, 40, 20, 3)));
    writeFileSync(join(dir, 'sq.png'), encodePng(patternImage(1, 0, 16, 16, 1)));
    const r = await readImages([join(dir, 'wide.png'), join(dir, 'sq.png')], { imageSize: 16, crop: 'resize' });
    expect(r.images.shape).toEqual([2, 16, 16, 3]);
    expect(r.warnings).toEqual([`${join(dir, 'wide.png')} is 40x20, not square: squashed to 16x16`]);
    await writeImages(r.images, [join(dir, 'a.png'), join(dir, 'b.png')]);
    const back = await readImages([join(dir, 'b.png')], { imageSize: 16, crop: 'resize' });
    const [x, y] = [await r.images.data(), await back.images.data()];
    for (let i = 0; i < y.length; i++) expect(y[i]).toBeCloseTo(x[16 * 16 * 3 + i], 6);
    await expect(readImages([join(dir, 'none.png')], { imageSize: 16, crop: 'resize' })).rejects.toThrow(/none\.png: cannot read \(ENOENT\)/);
    tf.dispose([r.images, back.images]);
  });
});
