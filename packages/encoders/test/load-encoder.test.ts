// loadEncoder end to end: hub ids served by a real local HTTP server (node:http on 127.0.0.1,
// ephemeral port) in the Hugging Face layout, built from the fixture files; progress events and
// the cache; preset names; a full SiglipModel checkpoint (vision tower taken) in sharded form;
// local folders; registered third-party encoders; errors.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeBackends, describeFixture, expectClose, expectNoLeaks, fixturePath } from '@fae/testing';
import { ConfigError, HubError, StateDictError, encodeSafetensors, parseSafetensors, readFloat32, type ProgressInfo, type RawImage } from '@fae/core';
import { loadEncoder, registerEncoder, registeredEncoderNames, TransformersEncoder, unregisterEncoder, type FeatureEncoder } from '@fae/encoders';

interface LocalHub {
  endpoint: string;
  repos: Map<string, Record<string, Uint8Array>>;
  /** GET requests per `repo/file`. */
  gets: Map<string, number>;
  close(): Promise<void>;
}

async function startHub(): Promise<LocalHub> {
  const repos = new Map<string, Record<string, Uint8Array>>();
  const gets = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const m = /^\/([^/]+\/[^/]+)\/resolve\/main\/(.+)$/.exec(decodeURIComponent(req.url ?? ''));
    const bytes = m ? repos.get(m[1])?.[m[2]] : undefined;
    if (!m || !bytes) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      return void res.end('not found');
    }
    res.writeHead(200, { 'content-length': String(bytes.byteLength), 'content-type': 'application/octet-stream' });
    if (req.method === 'HEAD') return void res.end();
    gets.set(`${m[1]}/${m[2]}`, (gets.get(`${m[1]}/${m[2]}`) ?? 0) + 1);
    res.end(bytes);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    repos,
    gets,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}

const file = (dir: string, name: string) => new Uint8Array(readFileSync(join(dir, name)));

/** The fixture's pixel input as NHWC and its reference outputs. */
async function fixtureIo(dir: string) {
  const io = parseSafetensors(file(dir, 'io.safetensors'));
  const info = io.info('input.pixel_values')!;
  const px = tf.tidy(() => tf.transpose(tf.tensor(io.readSync('input.pixel_values') as Float32Array, info.shape), [0, 2, 3, 1]));
  return { px, io };
}

async function expectMatchesFixture(enc: FeatureEncoder, dir: string): Promise<void> {
  const { px, io } = await fixtureIo(dir);
  const out = await expectNoLeaks(() => (enc as TransformersEncoder).run(px));
  await expectClose(out.lastHiddenState, await readFloat32(io, 'output.last_hidden_state'), 1e-4, 'last_hidden_state');
  await expectClose(out.poolerOutput!, await readFloat32(io, 'output.pooler_output'), 1e-4, 'pooler_output');
  tf.dispose([px, out.lastHiddenState, out.poolerOutput!]);
}

const dinoDir = fixturePath('encoders', 'dinov2_0');
const sigDir = fixturePath('encoders', 'siglip_3');
const procDir = fixturePath('encoders', 'dinov2_processor');

describeFixture('loadEncoder', ['encoders', 'siglip_3'], () => {
  let hub: LocalHub;
  let cacheDir: string;
  beforeAll(async () => {
    hub = await startHub();
    cacheDir = await mkdtemp(join(tmpdir(), 'fae-enc-cache-'));
    hub.repos.set('test-org/dinov2-tiny', {
      'config.json': file(dinoDir!, 'config.json'),
      'model.safetensors': file(dinoDir!, 'model.safetensors'),
      'preprocessor_config.json': file(procDir!, 'preprocessor_config.json'),
    });
    // served under a preset's hub id, without preprocessor_config.json (the preset's applies)
    hub.repos.set('facebook/dinov2-small', { 'config.json': file(dinoDir!, 'config.json'), 'model.safetensors': file(dinoDir!, 'model.safetensors') });
    // a full SiglipModel checkpoint: vision tower under vision_model., a text tower and logit scale/bias
    // besides it, split over two shards with an index
    const vision = parseSafetensors(file(sigDir!, 'model.safetensors'));
    const shards: Array<Map<string, { shape: number[]; data: Float32Array }>> = [new Map(), new Map()];
    vision.keys().forEach((k, i) => shards[i % 2].set(`vision_model.${k}`, { shape: vision.info(k)!.shape, data: vision.readSync(k) as Float32Array }));
    shards[1].set('text_model.embeddings.token_embedding.weight', { shape: [10, 8], data: new Float32Array(80).fill(0.5) });
    shards[0].set('logit_scale', { shape: [1], data: Float32Array.of(2.3) });
    shards[0].set('logit_bias', { shape: [1], data: Float32Array.of(-10) });
    const weightMap: Record<string, string> = {};
    shards.forEach((s, i) => s.forEach((_, k) => (weightMap[k] = `model-0000${i + 1}-of-00002.safetensors`)));
    const visionConfig = JSON.parse(readFileSync(join(sigDir!, 'config.json'), 'utf8'));
    delete visionConfig.model_type;
    hub.repos.set('test-org/siglip-full', {
      'config.json': new TextEncoder().encode(JSON.stringify({ model_type: 'siglip', text_config: { hidden_size: 8, vocab_size: 10 }, vision_config: visionConfig })),
      'model.safetensors.index.json': new TextEncoder().encode(JSON.stringify({ metadata: {}, weight_map: weightMap })),
      'model-00001-of-00002.safetensors': encodeSafetensors(shards[0]),
      'model-00002-of-00002.safetensors': encodeSafetensors(shards[1]),
    });
    const broken = parseSafetensors(file(dinoDir!, 'model.safetensors'));
    const partial = new Map(broken.keys().filter((k) => k !== 'layernorm.bias').map((k) => [k, { shape: broken.info(k)!.shape, data: broken.readSync(k) as Float32Array }]));
    hub.repos.set('test-org/dinov2-broken', { 'config.json': file(dinoDir!, 'config.json'), 'model.safetensors': encodeSafetensors(partial) });
    hub.repos.set('test-org/unknown', { 'config.json': new TextEncoder().encode('{"model_type": "bert"}'), 'model.safetensors': encodeSafetensors({}) });
  });
  afterAll(async () => {
    await hub.close();
    await rm(cacheDir, { recursive: true, force: true });
  });

  describeBackends('hub, presets, local folders, registry', ({ backend }) => {
    it('loads a hub id over HTTP with progress events, then from the cache', async () => {
      const events: ProgressInfo[] = [];
      const opts = { endpoint: hub.endpoint, cacheDir: join(cacheDir, `a-${backend}`), onProgress: (e: ProgressInfo) => events.push(e) };
      const enc = await loadEncoder('test-org/dinov2-tiny', opts);
      expect(enc).toBeInstanceOf(TransformersEncoder);
      expect([enc.name, enc.patchSize, enc.hiddenSize]).toEqual(['test-org/dinov2-tiny', 14, 64]);
      const size = hub.repos.get('test-org/dinov2-tiny')!['model.safetensors'].byteLength;
      const statuses = events.filter((e) => 'file' in e && e.file === 'model.safetensors').map((e) => e.status);
      expect(statuses[0]).toBe('initiate');
      expect(statuses).toContain('progress');
      expect(statuses.at(-1)).toBe('done');
      const done = events.find((e) => e.status === 'done' && e.file === 'model.safetensors') as { loaded: number; cached: boolean };
      expect([done.loaded, done.cached]).toEqual([size, false]);
      const total = events.filter((e) => e.status === 'progress_total').at(-1) as { loaded: number; total: number };
      expect(total.loaded).toBe(total.total);
      expect(events.at(-1)!.status).toBe('ready');
      await expectMatchesFixture(enc, dinoDir!);
      enc.dispose();

      const gets = hub.gets.get('test-org/dinov2-tiny/model.safetensors');
      const again: ProgressInfo[] = [];
      const enc2 = await loadEncoder('test-org/dinov2-tiny', { ...opts, onProgress: (e) => again.push(e) });
      expect(hub.gets.get('test-org/dinov2-tiny/model.safetensors')).toBe(gets);
      expect((again.find((e) => e.status === 'done' && e.file === 'model.safetensors') as { cached: boolean }).cached).toBe(true);
      enc2.dispose();
    });

    it('preprocesses with the checkpoint preprocessor_config.json and extracts [B, h, w, D] features', async () => {
      const enc = (await loadEncoder('test-org/dinov2-tiny', { endpoint: hub.endpoint, cacheDir: join(cacheDir, `a-${backend}`) })) as TransformersEncoder;
      const io = parseSafetensors(file(procDir!, 'io.safetensors'));
      const image: RawImage = { width: 300, height: 200, channels: 3, data: io.readSync('input.image_uint8_hwc') as Uint8Array };
      const px = enc.preprocess(image);
      await expectClose(tf.transpose(px, [0, 3, 1, 2]), io.readSync('output.pixel_values') as Float32Array, 1e-6, 'pixel_values');
      const f = await expectNoLeaks(() => enc.features(px));
      expect(f.shape).toEqual([1, 16, 16, 64]);
      const g = await expectNoLeaks(() => enc.encode([image, image], { layer: 1, norm: 'no-affine' }));
      expect(g.shape).toEqual([2, 16, 16, 64]);
      tf.dispose([px, f, g]);
      enc.dispose();
    });

    it('resolves a preset name to its hub id; the preset preprocessing applies when the repo has none', async () => {
      const enc = (await loadEncoder('dinov2-small', { endpoint: hub.endpoint, cacheDir: join(cacheDir, `b-${backend}`) })) as TransformersEncoder;
      expect(enc.name).toBe('facebook/dinov2-small');
      expect(enc.processor.outputSize(480, 640)).toEqual([224, 224]);
      enc.dispose();
    });

    it('takes the vision tower of a full, sharded SiglipModel checkpoint (strict within vision_model.)', async () => {
      const enc = await loadEncoder('test-org/siglip-full', { endpoint: hub.endpoint, cacheDir: join(cacheDir, `c-${backend}`) });
      await expectMatchesFixture(enc, sigDir!);
      enc.dispose();
    });

    it('loads a local folder and an http(s) folder URL', async () => {
      const enc = await loadEncoder(dinoDir!);
      await expectMatchesFixture(enc, dinoDir!);
      enc.dispose();
      const url = `${hub.endpoint}/test-org/siglip-full/resolve/main`;
      const fromUrl = await loadEncoder(url, { cacheDir: join(cacheDir, `e-${backend}`) });
      expect(fromUrl.name).toBe(url);
      await expectMatchesFixture(fromUrl, sigDir!);
      fromUrl.dispose();
    });

    it('fails clearly: missing tensors, unknown architectures, unknown repos', async () => {
      const opts = { endpoint: hub.endpoint, cacheDir: join(cacheDir, `d-${backend}`) };
      await expect(loadEncoder('test-org/dinov2-broken', opts)).rejects.toThrow(StateDictError);
      await expect(loadEncoder('test-org/dinov2-broken', opts)).rejects.toThrow(/missing: layernorm.bias/);
      await expect(loadEncoder('test-org/unknown', opts)).rejects.toThrow(ConfigError);
      await expect(loadEncoder('test-org/unknown', opts)).rejects.toThrow(/unsupported model_type "bert"/);
      await expect(loadEncoder('test-org/nothing-here', opts)).rejects.toThrow(HubError);
    });

    it('accepts encoders this package did not write (registerEncoder)', async () => {
      // A toy encoder: the mean colour of each 8x8 patch as a 3-d feature.
      const toy: FeatureEncoder = {
        name: 'patch-mean',
        patchSize: 8,
        hiddenSize: 3,
        preprocess: (images) => tf.tidy(() => tf.div(images as tf.Tensor4D, 255)),
        features: (px) => tf.tidy(() => tf.avgPool(px as tf.Tensor4D, 8, 8, 'valid') as tf.Tensor4D),
        dispose: () => {},
      };
      const seen: unknown[] = [];
      registerEncoder('patch-mean', (o) => {
        seen.push(o.revision);
        return toy;
      });
      expect(registeredEncoderNames()).toContain('patch-mean');
      const enc = await loadEncoder('patch-mean', { revision: 'v2' });
      expect(enc).toBe(toy);
      expect(seen).toEqual(['v2']);
      const x = tf.fill([1, 16, 24, 3], 255);
      const f = tf.tidy(() => enc.features(enc.preprocess(x)));
      expect(f.shape).toEqual([1, 2, 3, 3]);
      await expectClose(f, new Array(18).fill(1), 1e-6);
      tf.dispose([x, f]);
      expect(unregisterEncoder('patch-mean')).toBe(true);
    });
  });
});
