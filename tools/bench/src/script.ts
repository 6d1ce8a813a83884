// What every benchmark script shares besides the timing loop (timing.ts): `--name value` arguments,
// the restart that puts software Vulkan into the environment (Dawn reads it only at process start),
// and the JSON file + markdown table of results. Imports only Node and @fae/testing's env helper.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { softwareVulkanEnv } from '../../testing/src/backends-env.js';

/** The value after `--name` on the command line, else `fallback`. */
export function scriptArg(name: string, fallback: string): string {
  const args = process.argv.slice(2);
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
}

/**
 * WebGPU on a CPU-only machine: re-runs this script once with software Vulkan (lavapipe) in its
 * environment and exits with the child's status. Returns when no restart is needed.
 */
export function restartWithSoftwareVulkan(): void {
  const vk = softwareVulkanEnv();
  if (!Object.keys(vk).length || process.env.FAE_BENCH_CHILD) return;
  const r = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, ...vk, FAE_BENCH_CHILD: '1' } });
  process.exit(r.status ?? 1);
}

/** Writes `<outDir>/<name>.json` and prints `header` and the rows as a markdown table. */
export function writeResultTable(outDir: string, name: string, result: object, rows: Array<Record<string, string | number>>, header: string): void {
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `${name}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2));
  console.log(header);
  const cols = Object.keys(rows[0]);
  console.log(`| ${cols.join(' | ')} |\n| ${cols.map(() => '---').join(' | ')} |`);
  for (const r of rows) console.log(`| ${cols.map((c) => r[c]).join(' | ')} |`);
  console.log(`wrote ${file}`);
}
