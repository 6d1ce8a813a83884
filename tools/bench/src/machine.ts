// What every benchmark JSON names: the machine (CPU model, cores, memory), Node, the versions of the
// packages that ran, and the date.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, platform, release, totalmem } from 'node:os';

const require = createRequire(import.meta.url);

/**
 * Versions baked in by device/prepare.sh's bundle (esbuild `define`), where package.json files are
 * not beside the bundle; empty when running from the sources.
 */
function bundledVersions(): Record<string, string> {
  try {
    return JSON.parse(process.env.FAE_BENCH_VERSIONS ?? '{}') as Record<string, string>;
  } catch {
    return {};
  }
}

/** An installed package's version, or 'not installed'. */
export function packageVersion(pkg: string): string {
  const baked = bundledVersions()[pkg];
  if (baked) return baked;
  try {
    return JSON.parse(readFileSync(require.resolve(`${pkg}/package.json`), 'utf8')).version as string;
  } catch {
    return 'not installed';
  }
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  versions: Record<string, string>;
  date: string;
}

export function machineInfo(packages: string[]): MachineInfo {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${platform()} ${release()}`,
    node: process.version,
    versions: Object.fromEntries(packages.map((p) => [p, packageVersion(p)])),
    date: new Date().toISOString(),
  };
}
