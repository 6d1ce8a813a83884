// Model source parsing: local directories, URLs, hub ids with revisions, endpoints from the environment.
import { describe, expect, it } from 'vitest';
import { ConfigError, parseSource, modelFileUrl, modelCacheSubdir, checkModelFileName } from '@fae/core';

describe('parseSource', () => {
  it('tells URLs, local paths and hub ids apart', () => {
    expect(parseSource('https://example.com/models/tiny/')).toEqual({ kind: 'url', base: 'https://example.com/models/tiny', name: 'https://example.com/models/tiny' });
    expect(parseSource('/data/models/tiny/')).toMatchObject({ kind: 'local', dir: '/data/models/tiny' });
    expect(parseSource('./tiny')).toMatchObject({ kind: 'local', dir: './tiny' });
    expect(parseSource('file:///data/my%20model')).toMatchObject({ kind: 'local', dir: '/data/my model' });
    expect(parseSource('models/tiny', {}, (p) => p === 'models/tiny')).toMatchObject({ kind: 'local', dir: 'models/tiny' });
    expect(parseSource('facebook/dinov2-small', { endpoint: 'http://127.0.0.1:9/' })).toEqual({
      kind: 'hub', id: 'facebook/dinov2-small', revision: 'main', endpoint: 'http://127.0.0.1:9', name: 'facebook/dinov2-small',
    });
  });

  it('takes the revision from @rev (over opts.revision) and builds Hugging Face resolve URLs', () => {
    const s = parseSource('org/name@refs/pr/3', { revision: 'v1', endpoint: 'https://hub.local' });
    expect(s).toMatchObject({ kind: 'hub', revision: 'refs/pr/3', name: 'org/name@refs/pr/3' });
    expect(modelFileUrl(s, 'sub dir/model.safetensors')).toBe('https://hub.local/org/name/resolve/refs%2Fpr%2F3/sub%20dir/model.safetensors');
    expect(modelCacheSubdir(s)).toBe('org/name/refs_2Fpr_2F3');
    expect(parseSource('org/name', { revision: 'v1', endpoint: 'https://hub.local' })).toMatchObject({ revision: 'v1' });
    expect(modelCacheSubdir(parseSource('http://127.0.0.1:8080/a/b c'))).toBe('url/127.0.0.1_8080/a/b_20c');
  });

  it('reads the endpoint from FAE_HUB_ENDPOINT, then HF_ENDPOINT', () => {
    const saved = { a: process.env.FAE_HUB_ENDPOINT, b: process.env.HF_ENDPOINT };
    try {
      delete process.env.FAE_HUB_ENDPOINT;
      process.env.HF_ENDPOINT = 'https://mirror.example';
      expect(parseSource('org/name')).toMatchObject({ endpoint: 'https://mirror.example' });
      process.env.FAE_HUB_ENDPOINT = 'http://127.0.0.1:1234';
      expect(parseSource('org/name')).toMatchObject({ endpoint: 'http://127.0.0.1:1234' });
    } finally {
      if (saved.a === undefined) delete process.env.FAE_HUB_ENDPOINT; else process.env.FAE_HUB_ENDPOINT = saved.a;
      if (saved.b === undefined) delete process.env.HF_ENDPOINT; else process.env.HF_ENDPOINT = saved.b;
    }
  });

  it('rejects malformed sources, revisions and file names', () => {
    expect(() => parseSource('')).toThrow(ConfigError);
    expect(() => parseSource('just-a-name')).toThrow(/hub id like "org\/name"/);
    expect(() => parseSource('a/b/c')).toThrow(ConfigError);
    expect(() => parseSource('org/name@../../etc')).toThrow(/invalid revision/);
    expect(() => checkModelFileName('../secrets')).toThrow(ConfigError);
    expect(() => checkModelFileName('/etc/passwd')).toThrow(ConfigError);
    expect(checkModelFileName('onnx/model.onnx')).toBe('onnx/model.onnx');
  });
});
