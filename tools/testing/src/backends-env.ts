// Locating software Vulkan (no vitest imports: vitest.shared.ts and the CLIs use this).
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where scripts/lavapipe.mjs keeps software Vulkan. */
export function lavapipeDir(): string | null {
  const root = join(process.env.FAE_CACHE_DIR ?? join(homedir(), '.cache', 'fae'), 'lavapipe');
  if (!existsSync(root)) return null;
  const d = readdirSync(root).find((n) => !n.includes('.partial') && existsSync(join(root, n, 'lvp_icd.json')));
  return d ? join(root, d) : null;
}

/**
 * Environment variables that make Dawn use lavapipe. LD_LIBRARY_PATH must be set before the process
 * starts (the Vulkan loader is found by the dynamic linker), so vitest.shared.ts applies this in the
 * main process before it forks workers; the parity and bench CLIs re-exec themselves with it.
 */
export function softwareVulkanEnv(): Record<string, string> {
  const dir = lavapipeDir();
  if (!dir || process.platform !== 'linux') return {};
  const env: Record<string, string> = {};
  if (!process.env.VK_ICD_FILENAMES) env.VK_ICD_FILENAMES = join(dir, 'lvp_icd.json');
  const lib = join(dir, 'root', 'usr', 'lib', 'x86_64-linux-gnu');
  const cur = process.env.LD_LIBRARY_PATH ?? '';
  if (!cur.split(':').includes(lib)) env.LD_LIBRARY_PATH = cur ? `${lib}:${cur}` : lib;
  if (!process.env.XDG_RUNTIME_DIR) env.XDG_RUNTIME_DIR = '/tmp';
  return env;
}

