// `npm run parity` as a child process: exit codes and the closing line.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, describeFixture } from '@fae/testing';
import { expandFixtureDirs, readFixtureFiles } from '../../../tools/testing/src/parity/fixture-files.js';
import { loadHandlers } from '../../../tools/testing/src/parity/load-handlers.js';

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

describeFixture('parity CLI over every implemented shared fixture', [], (root) => {
  // Fixtures are selected with vitest's (lenient) module loading; the CLI runs them in plain Node, where a
  // handler whose package does not link fails its fixtures as unknown.
  it('passes every fixture a handler recognises (cpu)', async () => {
    const { handlers } = await loadHandlers();
    const implemented = expandFixtureDirs([root]).fixtures.map((f) => f.dir).filter((d) => {
      const files = readFixtureFiles(d);
      return handlers.some((h) => h.detect(files));
    });
    expect(implemented.some((d) => d.endsWith('torch_checkpoint'))).toBe(true);
    const r = parity(...implemented);
    expect(r.status, r.out.split('\n').filter((l) => !l.startsWith('PASS')).join('\n') + r.err).toBe(0);
    expect(r.lines.at(-1)).toMatch(/^\d+ passed, 0 failed$/);
  }, 600_000);
});
