#!/usr/bin/env node
// `npm test`: prepares software WebGPU (cached), builds and tests every package through turbo, then
// prints one closing line summed over all packages: `tests: N passed, M failed, K skipped`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const resultsDir = join(root, 'test-results');
rmSync(resultsDir, { recursive: true, force: true });
mkdirSync(resultsDir, { recursive: true });

const run = (cmd, args, env = {}) =>
  spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', ...env } }).status ?? 1;

let status = run(process.execPath, [join(root, 'scripts', 'vendor-gradients.mjs')]);
if (status === 0) status = run(process.execPath, [join(root, 'scripts', 'lavapipe.mjs')]);
if (status === 0) {
  const extra = process.argv.slice(2);
  status = run('npx', ['turbo', 'run', 'test', '--env-mode=loose', '--concurrency=1', '--output-logs=full', '--continue', ...extra], {
    FAE_TEST_RESULTS: resultsDir,
  });
}

let passed = 0, failed = 0, skipped = 0;
if (existsSync(resultsDir)) {
  for (const f of readdirSync(resultsDir).filter((n) => n.endsWith('.json'))) {
    try {
      const r = JSON.parse(readFileSync(join(resultsDir, f), 'utf8'));
      passed += r.numPassedTests ?? 0;
      failed += r.numFailedTests ?? 0;
      // a test file that failed to load has no test results of its own: count it as one failure
      for (const t of r.testResults ?? []) if (t.status === 'failed' && !(t.assertionResults ?? []).length) failed += 1;
      skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
    } catch {
      failed += 1;
      console.error(`could not read ${f}`);
    }
  }
}
if (status !== 0 && failed === 0) failed = 1; // a crash or build failure counts as a failure
console.log(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(status === 0 && failed === 0 ? 0 : 1);
