// The component format and registry: save -> load round trip, atomic replacement, strict loading
// (typed errors naming the file and tensor), upstream layouts through detect hooks, `.pt` weights,
// reader-based opening (browsers) and the legacy @fae/adapter layout.
import * as tf from '@tensorflow/tfjs-core';
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeBackends, expectClose, ref64 } from '@fae/testing';
import {
  ConfigError, Linear, Module, StateDictError, checkGeometry, componentNameOf, encodeComponent, encodeSafetensors, instantiateComponent, loadComponent,
  HubError, openComponentFiles, parseSafetensors, type ProgressInfo, readComponentConfig, registerComponent, registeredComponentNames, saveComponent, unregisterComponent,
} from '@fae/core';

interface TinyConfig {
  inputs: number;
  outputs: number;
}

/** A two-layer test model: x [B, inputs] -> [B, outputs]. */
class TinyNet extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(readonly config: TinyConfig) {
    super();
    this.fc1 = this.addModule('fc1', new Linear(config.inputs, 6, { seed: 1 }));
    this.fc2 = this.addModule('fc2', new Linear(6, config.outputs, { seed: 2 }));
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.fc2.forward(tf.relu(this.fc1.forward(x))));
  }
}

registerComponent('TinyNet', {
  type: TinyNet,
  create: (c: TinyConfig) => new TinyNet(c),
  configOf: (m: TinyNet) => m.config,
  // An "upstream" layout: a config.json with model_type 'tiny' and snake_case fields.
  detect: (json) => json.model_type === 'tiny',
  load: async (opened) => {
    const net = new TinyNet({ inputs: opened.config.in_features as number, outputs: opened.config.out_features as number });
    const store = await opened.openWeights();
    try {
      await net.loadStateDict(store, { prefix: 'net.' });
    } catch (e) {
      net.dispose();
      throw e;
    } finally {
      await store.close?.();
    }
    return net;
  },
});

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
const tmp = async () => {
  const d = await mkdtemp(join(tmpdir(), 'fae-component-'));
  dirs.push(d);
  return d;
};

describeBackends('component format', () => {
  it('saveComponent writes config.json + model.safetensors; loadComponent gives identical outputs', async () => {
    const root = await tmp();
    const net = new TinyNet({ inputs: 4, outputs: 3 });
    expect(componentNameOf(net)).toBe('TinyNet');
    expect(registeredComponentNames()).toContain('TinyNet');
    await saveComponent(join(root, 'tiny'), net, { metadata: { steps: '12' } });
    expect((await readdir(join(root, 'tiny'))).sort()).toEqual(['config.json', 'model.safetensors']);
    expect((await readdir(root)).sort()).toEqual(['tiny']); // no temp folder left behind
    const json = JSON.parse(await readFile(join(root, 'tiny', 'config.json'), 'utf8'));
    expect(json).toEqual({ class: 'TinyNet', fae_format: 1, config: { inputs: 4, outputs: 3 }, metadata: { steps: '12' } });
    const file = parseSafetensors(new Uint8Array(await readFile(join(root, 'tiny', 'model.safetensors'))));
    expect(file.keys().sort()).toEqual(['fc1.bias', 'fc1.weight', 'fc2.bias', 'fc2.weight']);
    expect(file.info('fc1.weight')!.shape).toEqual([6, 4]); // PyTorch layout [out, in]
    expect(file.metadata).toMatchObject({ format: 'pt', fae_class: 'TinyNet', steps: '12' });

    const before = tf.memory().numTensors;
    const back = await loadComponent<TinyNet>(join(root, 'tiny'), { expectClass: 'TinyNet' });
    expect(tf.memory().numTensors - before).toBe(4); // exactly the module's four variables
    expect(back).toBeInstanceOf(TinyNet);
    const x = ref64.toTensor(ref64.randomNd([2, 4], 3));
    const [a, b] = [net.forward(x), back.forward(x)];
    await expectClose(b, a, 0);
    expect(await readComponentConfig(join(root, 'tiny'))).toEqual({ name: 'TinyNet', config: { inputs: 4, outputs: 3 }, metadata: { steps: '12' }, upstream: false });

    // Saving again replaces the folder atomically (no temp or old folder remains).
    await saveComponent(join(root, 'tiny'), back);
    expect((await readdir(root)).sort()).toEqual(['tiny']);
    tf.dispose([x, a, b]);
    net.dispose();
    back.dispose();
  });

  it('typed errors: unknown class, wrong expected class, newer format, mismatched tensor (named with the file)', async () => {
    const root = await tmp();
    const net = new TinyNet({ inputs: 4, outputs: 3 });
    await saveComponent(join(root, 'tiny'), net);
    await expect(loadComponent(join(root, 'tiny'), { expectClass: 'LightningDiT' })).rejects.toThrow(/config\.json: holds a 'TinyNet', not a 'LightningDiT'/);

    const cfg = join(root, 'tiny', 'config.json');
    await writeFile(cfg, JSON.stringify({ class: 'NoSuchNet', fae_format: 1, config: {} }));
    await expect(loadComponent(join(root, 'tiny'))).rejects.toThrow(/no component registered as 'NoSuchNet'/);
    await writeFile(cfg, JSON.stringify({ class: 'TinyNet', fae_format: 9, config: { inputs: 4, outputs: 3 } }));
    await expect(loadComponent(join(root, 'tiny'))).rejects.toThrow(ConfigError);
    await writeFile(cfg, JSON.stringify({ hello: 1 }));
    await expect(loadComponent(join(root, 'tiny'))).rejects.toThrow(/not an FAE component/);

    await writeFile(cfg, JSON.stringify({ class: 'TinyNet', fae_format: 1, config: { inputs: 5, outputs: 3 } }));
    const before = tf.memory().numTensors;
    const err = await loadComponent(join(root, 'tiny')).catch((e) => e);
    expect(err).toBeInstanceOf(StateDictError);
    expect(err.message).toMatch(/model\.safetensors/);
    expect(err.message).toMatch(/fc1\.weight: expected \[6,5\], found \[6,4\]/);
    expect(tf.memory().numTensors).toBe(before); // the half-built module was disposed
    await expect(loadComponent(join(root, 'missing'))).rejects.toThrow(/config\.json/);
    class Unregistered extends Module {}
    await expect(saveComponent(join(root, 'u'), new Unregistered())).rejects.toThrow(/not a registered component/);
    net.dispose();
  });

  it('upstream layouts load through detect/load hooks; a source may name the weights file', async () => {
    const root = await tmp();
    const net = new TinyNet({ inputs: 4, outputs: 2 });
    const sd = await net.stateDict();
    await mkdir(join(root, 'up'));
    await writeFile(join(root, 'up', 'config.json'), JSON.stringify({ model_type: 'tiny', in_features: 4, out_features: 2 }));
    await writeFile(join(root, 'up', 'model.safetensors'), encodeSafetensors(new Map([...sd].map(([k, v]) => [`net.${k}`, v]))));
    const up = await loadComponent<TinyNet>(join(root, 'up'), { expectClass: 'TinyNet' });
    expect((await readComponentConfig(join(root, 'up'))).upstream).toBe(true);
    const x = ref64.toTensor(ref64.randomNd([1, 4], 5));
    await expectClose(up.forward(x), net.forward(x), 0);

    // A source may name the weights file itself (config.json is read beside it).
    await saveComponent(join(root, 'fae'), net);
    const viaFile = await loadComponent<TinyNet>(join(root, 'fae', 'model.safetensors'));
    await expectClose(viaFile.forward(x), net.forward(x), 0);
    tf.dispose(x);
    for (const m of [net, up, viaFile]) m.dispose();
  });

  it('loads from a hub id and an http(s) URL through the hub code (progress events, cache, typed 404)', async () => {
    const root = await tmp();
    const net = new TinyNet({ inputs: 4, outputs: 3 });
    await saveComponent(join(root, 'tiny'), net);
    const files: Record<string, Uint8Array> = {
      'config.json': new Uint8Array(await readFile(join(root, 'tiny', 'config.json'))),
      'model.safetensors': new Uint8Array(await readFile(join(root, 'tiny', 'model.safetensors'))),
    };
    let gets = 0;
    const server = createServer((req, res) => {
      // Hub layout /org/name/resolve/<rev>/<file>, and a plain folder /plain/<file>.
      const m = /^\/(?:org\/tiny\/resolve\/main|plain)\/(.+)$/.exec(req.url ?? '');
      const bytes = m ? files[m[1]] : undefined;
      if (!bytes) return void res.writeHead(404).end('not found');
      res.writeHead(200, { 'content-length': String(bytes.byteLength) });
      if (req.method === 'HEAD') return void res.end();
      gets++;
      res.end(bytes);
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const events: ProgressInfo[] = [];
      const cacheDir = join(root, 'cache');
      const fromHub = await loadComponent<TinyNet>('org/tiny', { endpoint: base, cacheDir, onProgress: (e) => events.push(e) });
      expect(events.some((e) => e.status === 'done' && 'file' in e && e.file === 'model.safetensors')).toBe(true);
      const before = gets;
      const again = await loadComponent<TinyNet>('org/tiny', { endpoint: base, cacheDir, offline: true }); // from the cache
      expect(gets).toBe(before);
      const fromUrl = await loadComponent<TinyNet>(`${base}/plain`, { cache: false });
      const x = ref64.toTensor(ref64.randomNd([2, 4], 8));
      const want = net.forward(x);
      for (const m of [fromHub, again, fromUrl]) {
        const got = m.forward(x);
        await expectClose(got, want, 0);
        got.dispose();
      }
      await expect(loadComponent('org/missing', { endpoint: base, cacheDir })).rejects.toThrow(HubError);
      tf.dispose([x, want]);
      for (const m of [net, fromHub, again, fromUrl]) m.dispose();
    } finally {
      await new Promise<void>((ok) => server.close(() => ok()));
    }
  });

  it('opens through a file reader (browsers) and reads the legacy @fae/adapter layout', async () => {
    const net = new TinyNet({ inputs: 3, outputs: 2 });
    const { configJson, weights } = await encodeComponent(net);
    const files = new Map<string, Uint8Array>([['config.json', new TextEncoder().encode(configJson)], ['model.safetensors', weights]]);
    const read = async (f: string) => {
      const b = files.get(f);
      if (!b) throw new Error(`${f}: not found`);
      return b;
    };
    const a = await instantiateComponent<TinyNet>(await openComponentFiles('mem', read));
    files.set('config.json', new TextEncoder().encode(JSON.stringify({ class: 'TinyNet', fae_format: 1, inputs: 3, outputs: 2 })));
    const legacy = await instantiateComponent<TinyNet>(await openComponentFiles('mem', read), { expectClass: ['TinyNet'] });
    const x = ref64.toTensor(ref64.randomNd([2, 3], 7));
    await expectClose(a.forward(x), net.forward(x), 0);
    await expectClose(legacy.forward(x), net.forward(x), 0);
    tf.dispose(x);
    for (const m of [net, a, legacy]) m.dispose();
    expect(unregisterComponent('NoSuch')).toBe(false);
  });
}, { backends: ['cpu'] });

describe('shape naming across packages', () => {
  it('checkGeometry agrees shared fields and names the parts that differ', () => {
    expect(checkGeometry({ encoder: { featureDim: 64 }, adapter: { grid: 7, featureDim: 64, latentChannels: 8 }, dit: { grid: 7, latentChannels: 8 } }))
      .toEqual({ grid: 7, featureDim: 64, latentChannels: 8 });
    expect(() => checkGeometry({ adapter: { grid: 7, latentChannels: 8 }, dit: { grid: 7, latentChannels: 32 } })).toThrow(/adapter \/ dit: latentChannels differs: adapter has 8, dit has 32/);
  });
});
