#!/usr/bin/env node
// Provides software WebGPU for CPU-only Linux machines: Mesa 25 lavapipe (Vulkan on the CPU)
// from Debian bookworm-backports, unpacked into a private cache folder (no system-wide install),
// plus an ICD json that points the Vulkan loader at it. Debian bookworm's own Mesa 22 lavapipe is
// rejected by Dawn, so it cannot be used. Cached: after the first run this only checks a file.
//
//   node scripts/lavapipe.mjs            # prepare (idempotent), print the ICD path
//   VK_ICD_FILENAMES=$(node scripts/lavapipe.mjs --print) node app.js
//
// The test harness (tools/testing) finds the same ICD file by itself.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, platform } from 'node:os';
import { join } from 'node:path';

const MESA_VERSION = '25.0.7-2~bpo12+1';
const cacheRoot = process.env.FAE_CACHE_DIR ?? join(homedir(), '.cache', 'fae');
const dir = join(cacheRoot, 'lavapipe', MESA_VERSION.replace(/[~+]/g, '_'));
const icdPath = join(dir, 'lvp_icd.json');
const quiet = process.argv.includes('--print');
const log = (m) => { if (!quiet) console.error(`[lavapipe] ${m}`); };

function findLibrary(root) {
  const stack = [root];
  while (stack.length) {
    const d = stack.pop();
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.name === 'libvulkan_lvp.so') return p;
    }
  }
  return null;
}

function prepare() {
  if (existsSync(icdPath)) return icdPath;
  if (platform() !== 'linux') {
    log('not Linux: software WebGPU is provided only for Linux; WebGPU tests will use the system adapter');
    return null;
  }
  if (!existsSync('/usr/bin/apt-get')) {
    log('apt-get not found: cannot fetch Mesa lavapipe; WebGPU tests will be skipped (or fail under CI=true)');
    return null;
  }
  const work = `${dir}.partial-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(join(work, 'lists', 'partial'), { recursive: true });
  mkdirSync(join(work, 'cache', 'archives', 'partial'), { recursive: true });
  const sources = join(work, 'backports.list');
  writeFileSync(
    sources,
    'deb http://deb.debian.org/debian bookworm main\ndeb http://deb.debian.org/debian bookworm-backports main\n',
  );
  const aptOpts = [
    `-oDir::Etc::SourceList=${sources}`,
    '-oDir::Etc::SourceParts=/nonexistent',
    `-oDir::State::Lists=${join(work, 'lists')}`,
    `-oDir::Cache=${join(work, 'cache')}`,
    '-oAPT::Architecture=amd64',
    '-oDebug::NoLocking=1',
    '-oAPT::Sandbox::User=root',
    '-qq',
  ];
  log('fetching the bookworm-backports package list (first run only)');
  execFileSync('apt-get', [...aptOpts, 'update'], { stdio: quiet ? 'ignore' : 'inherit' });
  // The Vulkan loader (libvulkan1) is not on every image either; it comes from bookworm itself.
  const wanted = [`mesa-vulkan-drivers=${MESA_VERSION}`, 'libvulkan1'];
  log(`downloading ${wanted.join(' ')}`);
  execFileSync('apt-get', [...aptOpts, 'download', ...wanted], { cwd: work, stdio: quiet ? 'ignore' : 'inherit' });
  const debs = readdirSync(work).filter((f) => f.endsWith('.deb'));
  if (debs.length !== wanted.length) throw new Error(`lavapipe: expected ${wanted.length} .deb files, got ${debs}`);
  for (const deb of debs) {
    execFileSync('dpkg', ['-x', join(work, deb), join(work, 'root')]);
    rmSync(join(work, deb), { force: true });
  }
  rmSync(join(work, 'lists'), { recursive: true, force: true });
  rmSync(join(work, 'cache'), { recursive: true, force: true });
  mkdirSync(dirname(dir), { recursive: true });
  rmSync(dir, { recursive: true, force: true });
  renameSync(work, dir); // the folder appears whole or not at all
  const lib = findLibrary(join(dir, 'root'));
  if (!lib) throw new Error('lavapipe: libvulkan_lvp.so not found in mesa-vulkan-drivers');
  const icd = { file_format_version: '1.0.0', ICD: { library_path: lib, api_version: '1.4.305' } };
  writeFileSync(`${icdPath}.tmp`, JSON.stringify(icd, null, 2));
  renameSync(`${icdPath}.tmp`, icdPath);
  log(`ready: ${icdPath}`);
  return icdPath;
}

/** Folder holding the private Vulkan loader (libvulkan.so.1); goes on LD_LIBRARY_PATH. */
function libDir() { return join(dir, 'root', 'usr', 'lib', 'x86_64-linux-gnu'); }

function dirname(p) { return p.slice(0, p.lastIndexOf('/')); }

try {
  const p = prepare();
  if (quiet) process.stdout.write(p ?? '');
  else if (p) log(`VK_ICD_FILENAMES=${p} LD_LIBRARY_PATH=${libDir()}`);
} catch (err) {
  console.error(`[lavapipe] failed: ${err.message}`);
  if (process.env.CI === 'true') process.exit(1);
}
