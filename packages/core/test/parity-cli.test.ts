// `npm run parity` as a child process: exit codes and the closing line.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, describeFixture } from '@fae/testing';
import { errorStats, expandFixtureDirs } from '@fae/testing/parity/fixture-files.js';
import { uncomparedOutputs } from '@fae/testing/parity/runner.js';
import { encodeSafetensors, parseSafetensors, type TensorToWrite } from '../src/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'fae-parity-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function parity(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'tools/testing/src/parity/cli.ts', ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 240_000 });
  return { status: r.status, out: r.stdout, err: r.stderr, lines: r.stdout.trim().split('\n') };
}

describeFixture('parity CLI', ['generators', 'torch_checkpoint'], (dir) => {
  it('passes the torch_checkpoint fixture: one line per output, then `N passed, 0 failed`, exit 0', () => {
    const r = parity(dir);
    expect(r.status, r.out + r.err).toBe(0);
    const outputs = r.lines.filter((l) => /^(PASS|FAIL)  /.test(l));
    expect(outputs.length).toBeGreaterThanOrEqual(19);
    expect(outputs.every((l) => /^PASS  generators\/torch_checkpoint  \S.* max_abs=0\.000e\+0  rel=0\.000e\+0 .*\[cpu\]/.test(l))).toBe(true);
    expect(r.lines.at(-1)).toBe(`${outputs.length} passed, 0 failed`);
  });

  it('recognises a fixture by content, not by folder name, and fails a corrupted copy', () => {
    const renamed = join(tmp, 'some_other_name');
    cpSync(dir, renamed, { recursive: true });
    const ok = parity(renamed);
    expect(ok.status, ok.out + ok.err).toBe(0);
    const broken = join(tmp, 'broken');
    cpSync(dir, broken, { recursive: true });
    const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8'));
    meta.step = 4321;
    writeFileSync(join(broken, 'meta.json'), JSON.stringify(meta));
    const bad = parity(broken);
    expect(bad.status).toBe(1);
    expect(bad.out).toMatch(/^FAIL  \S+\/broken  value step .*\(1234 vs 4321\)$/m);
    expect(bad.lines.at(-1)).toMatch(/^\d+ passed, 1 failed$/);
  });
});

describe('parity CLI: failures', () => {
  it('exits non-zero on an unknown fixture and on a missing directory', () => {
    const unknown = join(tmp, 'unknown_fixture');
    rmSync(unknown, { recursive: true, force: true });
    cpSync(join(REPO_ROOT, 'packages', 'core', 'package.json'), join(unknown, 'config.json'), { recursive: true });
    const r = parity(unknown, join(tmp, 'does-not-exist'));
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/unknown fixture: no handler recognises/);
    expect(r.out).toMatch(/no such directory/);
    expect(r.lines.at(-1)).toBe('0 passed, 2 failed');
  });

  it('rejects an unknown backend with usage (exit 2)', () => {
    const r = parity(tmp, '--backend', 'tpu');
    expect(r.status).toBe(2);
    expect(r.err).toMatch(/unknown backend 'tpu'/);
  });
});

describe('parity rules (unit)', () => {
  it('errorStats: NaN is a mismatch unless the reference is NaN there and the caller says why', () => {
    expect(errorStats([1, 2, 3], [1, 2, 3.5]).maxAbs).toBe(0.5);
    expect(errorStats([1, NaN, 3], [1, 2, 3]).maxAbs).toBe(Infinity); // ours NaN
    expect(errorStats([1, 2, 3], [1, NaN, 3]).maxAbs).toBe(Infinity); // reference NaN, ours finite
    expect(errorStats([1, NaN, 3], [1, NaN, 3]).maxAbs).toBe(Infinity); // both NaN, no reason given
    const why = errorStats([1, NaN, 3.25], [1, NaN, 3], { nanWhy: 'the reference sample overflowed' });
    expect(why).toMatchObject({ maxAbs: 0.25, nanMatched: 1 });
    expect(why.rel).toBeCloseTo(0.25 / 3, 12);
    expect(why.note).toBe('1 NaN element(s) match reference NaN: the reference sample overflowed');
    expect(errorStats([Infinity, 1], [Infinity, 1]).maxAbs).toBe(0); // an exact copy of an infinity
    expect(errorStats([-Infinity, 1], [Infinity, 1]).maxAbs).toBe(Infinity);
    expect(errorStats([1, 2], [1]).maxAbs).toBe(Infinity);
  });

  it('uncomparedOutputs: every output.* key not named by a compared output', () => {
    expect(uncomparedOutputs(['input.x', 'output.a', 'output.b'], new Set(['output.a', undefined]))).toEqual(['output.b']);
  });

  it('expandFixtureDirs: index.json names without a folder and malformed index files are errors', () => {
    const root = join(tmp, 'index-rules');
    for (const d of ['a', 'b']) cpSync(join(REPO_ROOT, 'packages', 'core', 'package.json'), join(root, 'set', d, 'config.json'));
    writeFileSync(join(root, 'set', 'index.json'), JSON.stringify(['b', 'gone', 'a']));
    cpSync(join(REPO_ROOT, 'packages', 'core', 'package.json'), join(root, 'bad', 'x', 'config.json'));
    writeFileSync(join(root, 'bad', 'index.json'), '{"x": 1}');
    const r = expandFixtureDirs([join(root, 'set'), join(root, 'bad')]);
    expect(r.fixtures.map((f) => f.label)).toEqual(['set/b', 'set/a', 'bad/x']);
    expect(r.indexErrors).toEqual([
      `${join(root, 'set', 'gone')}: listed in ${join(root, 'set', 'index.json')} but there is no such folder`,
      `${join(root, 'bad', 'index.json')}: expected a JSON array of folder names`,
    ]);
  });
});

/** Rewrites a fixture's safetensors file with `edit` applied to its tensors. */
function rewriteSafetensors(path: string, edit: (tensors: Record<string, TensorToWrite>) => void): void {
  const store = parseSafetensors(new Uint8Array(readFileSync(path)), path);
  const tensors: Record<string, TensorToWrite> = {};
  for (const k of store.keys()) {
    const info = store.info(k)!;
    tensors[k] = { data: store.readSync(k).slice() as TensorToWrite['data'], shape: info.shape, dtype: info.dtype } as TensorToWrite;
  }
  edit(tensors);
  writeFileSync(path, encodeSafetensors(tensors));
}

describeFixture('parity CLI: strict rules on synthetic fixture folders', ['generators', 'lightningdit_1'], (src) => {
  // One folder of fixtures, one CLI run: a clean copy passes; an extra output.* tensor the handler
  // does not compare, a folder no handler recognises, an index.json name without a folder and a NaN
  // both sides (no reason given) each fail.
  it('fails an uncompared output, an unknown folder, a missing index entry and NaN vs NaN; passes the clean copy', () => {
    const root = join(tmp, 'strict');
    for (const d of ['clean', 'extra_output', 'nan_both']) cpSync(src, join(root, d), { recursive: true });
    rewriteSafetensors(join(root, 'extra_output', 'io.safetensors'), (t) => {
      t['output.extra'] = { data: new Float32Array([1, 2, 3]), shape: [3], dtype: 'F32' } as TensorToWrite;
    });
    // A NaN bias makes every output of ours NaN; the reference is NaN everywhere too.
    rewriteSafetensors(join(root, 'nan_both', 'model.safetensors'), (t) => {
      const bias = Object.keys(t).find((k) => /final_layer\.linear\.bias$/.test(k))!;
      (t[bias].data as Float32Array).fill(NaN);
    });
    rewriteSafetensors(join(root, 'nan_both', 'io.safetensors'), (t) => (t['output.out'].data as Float32Array).fill(NaN));
    mkdirSync(join(root, 'mystery'));
    writeFileSync(join(root, 'mystery', 'notes.txt'), 'a folder no handler recognises\n');
    writeFileSync(join(root, 'index.json'), JSON.stringify(['clean', 'extra_output', 'nan_both', 'gone']));
    const r = parity(root);
    expect(r.status, r.out + r.err).toBe(1);
    expect(r.out).toMatch(/^PASS  strict\/clean  out  /m);
    expect(r.out).toMatch(/^PASS  strict\/extra_output  out  /m);
    expect(r.out).toMatch(/^FAIL  strict\/extra_output  output\.extra  .*\(io\.safetensors holds output\.extra but the lightningdit handler does not compare it\)$/m);
    expect(r.out).toMatch(/^FAIL  strict\/nan_both  out  max_abs=Infinity  rel=Infinity /m);
    expect(r.out).toMatch(/^FAIL  \S*strict\/gone: listed in \S*index\.json but there is no such folder$/m);
    expect(r.out).toMatch(/^FAIL  strict\/mystery  \(unknown fixture: no handler recognises /m);
    expect(r.lines.at(-1)).toBe('2 passed, 4 failed');
  }, 240_000);
});

describeFixture('parity CLI over every shared fixture', [], (root) => {
  // The whole tree in one run: a folder no handler recognises, an index.json entry without a folder,
  // or an output.* tensor a handler does not compare fails it.
  it('passes every fixture under the shared root (cpu)', () => {
    const r = parity(root);
    expect(r.status, r.out.split('\n').filter((l) => !l.startsWith('PASS')).join('\n') + r.err).toBe(0);
    expect(r.lines.at(-1)).toMatch(/^\d+ passed, 0 failed$/);
    expect(r.out).not.toMatch(/^FAIL/m);
    expect(Number(r.lines.at(-1)!.split(' ')[0])).toBeGreaterThanOrEqual(60);
  }, 600_000);
});
