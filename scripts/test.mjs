#!/usr/bin/env node
// `npm test`: prepares software WebGPU (cached), builds and tests every package through turbo, then
// prints one closing line summed over all packages: `tests: N passed, M failed, K skipped`.
// Dawn (the `webgpu` package) prints two native limit notices each time a test process opens the
// software Vulkan adapter; they say nothing about the tests, so they are counted and reported once.
import { spawn, spawnSync } from 'node:child_process';
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
const DAWN_NOTICE = /Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced/;
let dawnNotices = 0;

/** Runs a command, passing its output through line by line except Dawn's repeated limit notices. */
function runFiltered(cmd, args, env) {
  return new Promise((resolveStatus) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', ...env } });
    const pass = (from, to) => {
      let rest = '';
      from.setEncoding('utf8');
      from.on('data', (chunk) => {
        const lines = (rest + chunk).split('\n');
        rest = lines.pop();
        const kept = lines.filter((l) => !(DAWN_NOTICE.test(l) && ++dawnNotices));
        if (kept.length) to.write(`${kept.join('\n')}\n`);
      });
      from.on('end', () => {
        if (rest && !(DAWN_NOTICE.test(rest) && ++dawnNotices)) to.write(rest);
      });
    };
    pass(child.stdout, process.stdout);
    pass(child.stderr, process.stderr);
    child.on('close', (code) => resolveStatus(code ?? 1));
    child.on('error', () => resolveStatus(1));
  });
}

if (status === 0) {
  const extra = process.argv.slice(2);
  status = await runFiltered('npx', ['turbo', 'run', 'test', '--env-mode=loose', '--concurrency=1', '--output-logs=full', '--continue', ...extra], {
    FAE_TEST_RESULTS: resultsDir,
  });
  if (dawnNotices) console.log(`(${dawnNotices} lines of Dawn's "maxDynamic...BuffersPerPipelineLayout artificially reduced" notice left out)`);
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
