// A Node script that uses the wasm backend exits by itself when its work is done, single-threaded
// (the default) and threaded (pthread workers are unref()'d once the backend has started).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));

function runChild(threads: string): { status: number | null; signal: string | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, 'fixtures', 'wasm-exit.ts'), threads], {
    cwd: join(here, '..'), encoding: 'utf8', timeout: 120_000, killSignal: 'SIGKILL',
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

describe('wasm in Node: the process exits by itself', () => {
  for (const [threads, expected] of [['default', 'single-thread'], ['2', 'threads:2']] as const) {
    it(`wasmThreads ${threads} -> ${expected}`, () => {
      const r = runChild(threads);
      expect(r.signal, `killed after 120 s (did not exit by itself)\n${r.stderr}`).toBeNull();
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
      expect(out.features).toContain(expected);
      expect(out.mean).toBe(256);
      expect(r.stderr.trim()).toBe('');
    });
  }
});
