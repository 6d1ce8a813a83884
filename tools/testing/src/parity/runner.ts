// The parity runner: every fixture directory through the handler that recognises it, on each backend
// asked for, one line per output and a closing `N passed, M failed`. Used by cli.ts; tests may call
// runParity directly.
import * as tf from '@tensorflow/tfjs-core';
import { useBackend, type TestBackend } from '../start-backend.js';
import { expandFixtureDirs, readFixtureFiles } from './fixture-files.js';
import type { ParityHandler, ParityOutput } from './types.js';

export interface ParitySummary {
  passed: number;
  failed: number;
}

const num = (x: number) => (Number.isFinite(x) ? x.toExponential(3) : String(x));

export function formatLine(fixture: string, backend: string, o: ParityOutput): string {
  const verdict = o.pass ? 'PASS' : 'FAIL';
  return `${verdict}  ${fixture}  ${o.name}  max_abs=${num(o.maxAbs)}  rel=${num(o.rel)}  tol=${o.tol}  [${backend}]${o.note ? `  (${o.note})` : ''}`;
}

/** The fixture's `output.*` tensors that no handler output was judged against. */
export function uncomparedOutputs(ioKeys: readonly string[], compared: ReadonlySet<string | undefined>): string[] {
  return ioKeys.filter((k) => k.startsWith('output.') && !compared.has(k));
}

/** Runs every fixture under `paths` on each backend; prints through `log`; returns the counts. */
export async function runParity(paths: string[], backends: TestBackend[], handlers: ParityHandler[], log: (line: string) => void = console.log): Promise<ParitySummary> {
  let passed = 0;
  let failed = 0;
  const { fixtures, missing, indexErrors } = expandFixtureDirs(paths);
  for (const m of missing) {
    log(`FAIL  ${m}  (no such directory)`);
    failed++;
  }
  for (const e of indexErrors) {
    log(`FAIL  ${e}`);
    failed++;
  }
  for (const backend of backends) {
    const why = await useBackend(backend);
    if (why) {
      log(`FAIL  backend ${backend} is unavailable: ${why}`);
      failed++;
      continue;
    }
    for (const fx of fixtures) {
      let files;
      try {
        files = readFixtureFiles(fx.dir);
      } catch (e) {
        log(`FAIL  ${fx.label}  (cannot read the fixture: ${(e as Error).message})  [${backend}]`);
        failed++;
        continue;
      }
      const handler = handlers.find((h) => {
        try {
          return h.detect(files);
        } catch {
          return false;
        }
      });
      if (!handler) {
        log(`FAIL  ${fx.label}  (unknown fixture: no handler recognises ${fx.dir}; files: ${files.files.slice(0, 8).join(', ')}${files.files.length > 8 ? ', …' : ''})  [${backend}]`);
        failed++;
        continue;
      }
      const before = tf.memory().numTensors;
      let outputs: ParityOutput[];
      try {
        outputs = await handler.run(files);
      } catch (e) {
        log(`FAIL  ${fx.label}  (${handler.name} threw: ${(e as Error).message})  [${backend}]`);
        failed++;
        continue;
      }
      const leaked = tf.memory().numTensors - before;
      if (leaked > 0) outputs.push({ name: 'tensor leak', maxAbs: leaked, rel: leaked, tol: 0, pass: false, note: `${leaked} tensor(s) left behind` });
      if (!outputs.length) outputs.push({ name: 'outputs', maxAbs: Infinity, rel: Infinity, tol: 0, pass: false, note: 'the handler compared nothing' });
      const compared = new Set(outputs.map((o) => o.refKey));
      for (const key of uncomparedOutputs(files.ioKeys ?? [], compared)) {
        outputs.push({ name: key, maxAbs: Infinity, rel: Infinity, tol: 0, pass: false, refKey: key, note: `io.safetensors holds ${key} but the ${handler.name} handler does not compare it` });
      }
      for (const o of outputs) {
        log(formatLine(fx.label, backend, o));
        if (o.pass) passed++;
        else failed++;
      }
    }
  }
  log(`${passed} passed, ${failed} failed`);
  return { passed, failed };
}
