// The packages as users get them: every package is packed, the tarballs are installed into fresh
// projects in the temp folder (outside the workspace, so nothing resolves to workspace sources), and
// small real scripts run there in Node ESM, Node CommonJS, tsc --noEmit (NodeNext and Bundler,
// skipLibCheck false, no @types/node) and browser bundles (esbuild, Vite/Rollup, webpack; no externals)
// run in Chromium.
// Each script must exit by itself: a run that needs to be killed fails.
//   minimal: only @fae/core, @fae/diffusion, @fae/eval + tfjs-core + tfjs-backend-wasm (issue 16's
//            done criterion): LightningDiT sampling, method-style ops, psnrSsimBatch;
//   full:    every package + the cpu, wasm and webgpu backends: DiT -> DINOv2 -> PSNR/SSIM + FID, every
//            package through require(), and the root README's per-package examples.
// Then publint and @arethetypeswrong/cli on every tarball, and `changeset version` on a copy.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, PACKAGES, copyInto, copyWasmFiles, describeRun, makeProject, packAll, readmeExamples, resultOf, run, serve, workspaceVersion, type RunResult } from './helpers.js';

const APPS = join(ROOT, 'tools', 'consumer', 'apps');
const NODE = process.execPath;
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const CHROMIUM = process.env.FAE_CHROMIUM ?? '/usr/bin/chromium';
const IN_CI = !!process.env.CI;
const haveChromium = existsSync(CHROMIUM);
const WEBPACK_VERSION = '5.113.0';

const work = mkdtempSync(join(tmpdir(), 'fae-consumer-'));
const minimal = join(work, 'minimal');
const full = join(work, 'full');
let tarballs: Record<string, string> = {};

// Every @types package the project has is in scope (as in a user's default tsconfig); @types/node is not
// installed (a test below checks), so a Node type in the public .d.ts fails to compile.
const TSCONFIG_BASE = { target: 'es2022', strict: true, skipLibCheck: false, noEmit: true, lib: ['es2022', 'dom'] };
const tsconfig = (module: string, moduleResolution: string, files: string[]) =>
  JSON.stringify({ compilerOptions: { ...TSCONFIG_BASE, module, moduleResolution }, files }, null, 2);

const appFiles = (app: string) => Object.fromEntries(readdirSync(join(APPS, app)).map((f) => [f, readFileSync(join(APPS, app, f), 'utf8')]));

/** TypeScript sources -> JavaScript Node runs (types stripped, nothing bundled, imports untouched). */
async function transpile(dir: string, file: string): Promise<string> {
  const cjs = file.endsWith('.cts');
  const out = file.replace(/\.m?ts$/, '.mjs').replace(/\.cts$/, '.cjs');
  await build({ absWorkingDir: dir, entryPoints: [file], outfile: join(dir, out), format: cjs ? 'cjs' : 'esm', platform: 'node', logLevel: 'error' });
  return out;
}

/** Runs a Node script of a project; asserts it exits by itself with 0 and prints nothing on stderr. */
async function runNode(dir: string, file: string, args: string[] = []): Promise<RunResult> {
  const r = await run(NODE, [file, ...args], { cwd: dir, timeoutMs: 180_000 });
  expect(r.timedOut, describeRun(`node ${file}`, r)).toBe(false);
  expect(r.code, describeRun(`node ${file}`, r)).toBe(0);
  expect(r.stderr.trim(), describeRun(`node ${file}`, r)).toBe('');
  return r;
}

/** Bundles `entry` with esbuild for browsers (no externals, no aliases) into `<dir>/www`. */
async function bundleWithEsbuild(dir: string, entry: string): Promise<string> {
  const www = join(dir, 'www');
  if (existsSync(join(www, 'bundle.js'))) return www;
  mkdirSync(www, { recursive: true });
  // errors and warnings fail the test
  const r = await build({ absWorkingDir: dir, entryPoints: [entry], outfile: join(www, 'bundle.js'), bundle: true, platform: 'browser', format: 'esm', logLevel: 'silent' });
  expect([...r.errors, ...r.warnings].map((m) => m.text)).toEqual([]);
  copyWasmFiles(dir, www);
  writeFileSync(join(www, 'index.html'), '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module" src="bundle.js"></script>');
  return www;
}

/** Builds `entry` with Vite (Rollup underneath; default config, no aliases) into `<dir>/vite-dist`. */
async function bundleWithVite(dir: string, entry: string): Promise<string> {
  const out = join(dir, 'vite-dist');
  writeFileSync(join(dir, 'index.html'), `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module" src="./${entry}"></script>`);
  const { build: viteBuild } = await import('vite');
  const warnings: string[] = [];
  await viteBuild({
    root: dir, configFile: false, logLevel: 'silent', base: './',
    build: { outDir: out, emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 1e9, rollupOptions: { onwarn: (w) => warnings.push(w.message) } },
  });
  expect(warnings).toEqual([]);
  copyWasmFiles(dir, out);
  return out;
}

/**
 * Bundles `entry` (JavaScript) with webpack 5 (production mode, no config beyond entry/output, no
 * externals or aliases) into `<dir>/webpack-dist`. webpack is installed into a tools folder beside the
 * project (the project itself keeps only the packages under test); modules resolve from the project.
 */
async function bundleWithWebpack(dir: string, entry: string): Promise<string> {
  const tools = join(work, 'webpack-tools');
  if (!existsSync(join(tools, 'node_modules', 'webpack'))) await makeProject(tools, { webpack: WEBPACK_VERSION }, {});
  const webpack = createRequire(join(tools, 'package.json'))('webpack');
  const out = join(dir, 'webpack-dist');
  const stats: any = await new Promise((resolveStats, reject) =>
    webpack({ mode: 'production', context: dir, entry: `./${entry}`, target: 'web', performance: { hints: false }, output: { path: out, filename: 'main.js' } }, (err: Error | null, st: unknown) => (err ? reject(err) : resolveStats(st))),
  );
  const info = stats.toJson({ all: false, errors: true, warnings: true });
  expect([...info.errors, ...info.warnings].map((m: { message: string }) => m.message)).toEqual([]);
  copyWasmFiles(dir, out);
  writeFileSync(join(out, 'index.html'), '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script src="main.js"></script>');
  return out;
}

/** Serves `www` and opens its index.html in Chromium; returns the page's verdict line. */
async function runInChromium(www: string, query = ''): Promise<string> {
  const { chromium } = await import('playwright-core');
  const { server, url } = await serve(www);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  try {
    const page = await browser.newPage();
    const lines: string[] = [];
    const verdict = new Promise<string>((resolveVerdict) => {
      page.on('console', (m) => {
        const text = m.text();
        lines.push(text);
        if (/^(RESULT|FAILED|SKIPPED) /.test(text)) resolveVerdict(text);
      });
      page.on('pageerror', (e) => resolveVerdict(`FAILED page error: ${e.message}`));
    });
    await page.goto(`${url}/index.html${query}`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<string>((r) => (timer = setTimeout(() => r(`FAILED timeout; console:\n${lines.join('\n')}`), 120_000)));
    const out = await Promise.race([verdict, timeout]);
    clearTimeout(timer);
    return out;
  } finally {
    await browser.close();
    server.close();
  }
}

beforeAll(async () => {
  tarballs = await packAll(join(work, 'tarballs'));
  const tfjs = (name: string) => ({ [name]: workspaceVersion(name) });
  const tgz = (name: string) => ({ [name]: `file:${tarballs[name]}` });
  await makeProject(minimal, { ...tgz('@fae/core'), ...tgz('@fae/diffusion'), ...tgz('@fae/eval'), ...tfjs('@tensorflow/tfjs-core'), ...tfjs('@tensorflow/tfjs-backend-wasm') }, {
    ...appFiles('minimal'),
    'tsconfig.nodenext.json': tsconfig('nodenext', 'nodenext', ['main.mts', 'main.cts', 'browser.ts']),
    'tsconfig.bundler.json': tsconfig('esnext', 'bundler', ['main.mts', 'browser.ts']),
  });
  const all = Object.assign({}, ...PACKAGES.map((p) => tgz(`@fae/${p}`)));
  await makeProject(full, { ...all, ...tfjs('@tensorflow/tfjs-core'), ...tfjs('@tensorflow/tfjs-backend-cpu'), ...tfjs('@tensorflow/tfjs-backend-wasm'), ...tfjs('@tensorflow/tfjs-backend-webgpu') }, {
    ...appFiles('full'),
    ...Object.fromEntries(Object.entries(readmeExamples()).map(([name, code]) => [`readme-${name}.mjs`, code])),
    'tsconfig.nodenext.json': tsconfig('nodenext', 'nodenext', ['run-full.mts', 'main.mts', 'main.cts', 'browser.ts']),
    'tsconfig.bundler.json': tsconfig('esnext', 'bundler', ['run-full.mts', 'main.mts', 'browser.ts']),
  });
  for (const f of ['main.mts', 'main.cts', 'browser.ts']) await transpile(minimal, f);
  for (const f of ['run-full.mts', 'main.mts', 'main.cts']) await transpile(full, f);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('minimal project: @fae/core, @fae/diffusion, @fae/eval, tfjs-core, tfjs-backend-wasm', () => {
  const results: Record<string, any> = {};

  it('Node ESM: initBackend(wasm), LightningDiT, sample, method-style ops, psnrSsimBatch; exits by itself', async () => {
    const r = await runNode(minimal, 'main.mjs');
    const out = (results.esm = resultOf(r.stdout));
    expect(out.backend).toBe('wasm');
    expect(Number.isFinite(out.mean)).toBe(true);
    expect(out.psnr).toHaveLength(2);
    for (const p of out.psnr) expect(p).toBeGreaterThan(15);
    expect(out.tensors).toBe(0);
  });

  it('Node CommonJS: the same through require(), same numbers', async () => {
    const r = await runNode(minimal, 'main.cjs');
    const out = resultOf(r.stdout);
    expect(out.backend).toBe('wasm');
    expect(out.mean).toBeCloseTo(results.esm.mean, 5);
    expect(out.psnr[0]).toBeCloseTo(results.esm.psnr[0], 3);
  });

  it('tsc --noEmit, moduleResolution NodeNext, skipLibCheck false, no @types/node', async () => {
    expect(existsSync(join(minimal, 'node_modules', '@types', 'node')), 'the tarballs pull in @types/node').toBe(false);
    const r = await run(NODE, [TSC, '-p', 'tsconfig.nodenext.json'], { cwd: minimal, timeoutMs: 180_000 });
    expect(r.code, describeRun('tsc (NodeNext)', r)).toBe(0);
  });

  it('tsc --noEmit, moduleResolution Bundler', async () => {
    const r = await run(NODE, [TSC, '-p', 'tsconfig.bundler.json'], { cwd: minimal, timeoutMs: 180_000 });
    expect(r.code, describeRun('tsc (Bundler)', r)).toBe(0);
  });

  it.skipIf(!IN_CI && !haveChromium)(`esbuild browser bundle (no externals) in Chromium, wasm${haveChromium ? '' : ` (skipped: no ${CHROMIUM})`}`, async () => {
    if (!haveChromium) throw new Error(`Chromium not found at ${CHROMIUM} (CI installs it: apt-get install -y chromium)`);
    const verdict = await runInChromium(await bundleWithEsbuild(minimal, 'browser.ts'));
    expect(verdict.startsWith('RESULT '), verdict).toBe(true);
    const out = JSON.parse(verdict.slice(7));
    expect(out.backend).toBe('wasm');
    expect(out.mean).toBeCloseTo(results.esm.mean, 4);
    expect(out.psnr[0]).toBeCloseTo(results.esm.psnr[0], 2);
    expect(out.tensors).toBe(0);
  });

  it.skipIf(!IN_CI && !haveChromium)('webpack 5 production build (no config, no externals) in Chromium, wasm', async () => {
    if (!haveChromium) throw new Error(`Chromium not found at ${CHROMIUM}`);
    const verdict = await runInChromium(await bundleWithWebpack(minimal, 'browser.mjs'));
    expect(verdict.startsWith('RESULT '), verdict).toBe(true);
    const out = JSON.parse(verdict.slice(7));
    expect(out.backend).toBe('wasm');
    expect(out.mean).toBeCloseTo(results.esm.mean, 4);
  });

  it.skipIf(!IN_CI && !haveChromium)('Vite (Rollup) production build, default config, in Chromium, wasm', async () => {
    if (!haveChromium) throw new Error(`Chromium not found at ${CHROMIUM}`);
    const verdict = await runInChromium(await bundleWithVite(minimal, 'browser.ts'));
    expect(verdict.startsWith('RESULT '), verdict).toBe(true);
    const out = JSON.parse(verdict.slice(7));
    expect(out.backend).toBe('wasm');
    expect(out.mean).toBeCloseTo(results.esm.mean, 4);
  });
});

describe('full project: every package, cpu/wasm/webgpu backends', () => {
  let esm: any;

  it('Node ESM: DiT samples -> DINOv2 features -> PSNR/SSIM and FID; exits by itself', async () => {
    const r = await runNode(full, 'main.mjs');
    esm = resultOf(r.stdout);
    expect(esm.backend).toBe('wasm');
    expect(esm.featureShape).toEqual([16, 4, 4, 32]);
    for (const p of esm.psnr) expect(p).toBeGreaterThan(15);
    for (const s of esm.ssim) expect(s).toBeGreaterThan(0.5);
    expect(esm.fid).toBeGreaterThan(0);
    expect(Number.isFinite(esm.fid)).toBe(true);
    expect(esm.tensors).toBe(0);
  });

  it('Node ESM on the cpu backend gives the same numbers', async () => {
    const r = await runNode(full, 'main.mjs', ['cpu']);
    const out = resultOf(r.stdout);
    expect(out.backend).toBe('cpu');
    expect(out.latentMean).toBeCloseTo(esm.latentMean, 4);
    expect(Math.abs(out.fid / esm.fid - 1)).toBeLessThan(1e-3);
  });

  it('Node CommonJS: every package through require()', async () => {
    const r = await runNode(full, 'main.cjs');
    const out = resultOf(r.stdout);
    expect(out).toMatchObject({ backend: 'wasm', feature: [1, 4, 4, 32], latent: [1, 4, 4, 4], bpd: [1] });
    expect(out.encoder).toBeGreaterThan(0);
    expect(out.psnr[0]).toBeCloseTo(20, 4); // 10 log10(1 / 0.1^2)
  });

  it('tsc --noEmit under NodeNext and Bundler', async () => {
    expect(existsSync(join(full, 'node_modules', '@types', 'node')), 'the tarballs pull in @types/node').toBe(false);
    for (const cfg of ['tsconfig.nodenext.json', 'tsconfig.bundler.json']) {
      const r = await run(NODE, [TSC, '-p', cfg], { cwd: full, timeoutMs: 180_000 });
      expect(r.code, describeRun(`tsc -p ${cfg}`, r)).toBe(0);
    }
  });

  it.skipIf(!IN_CI && !haveChromium)('esbuild browser bundle in Chromium: wasm, and WebGPU where the browser offers an adapter', async (ctx) => {
    const www = await bundleWithEsbuild(full, 'browser.ts');
    const verdict = await runInChromium(www, '?backend=wasm');
    expect(verdict.startsWith('RESULT '), verdict).toBe(true);
    const out = JSON.parse(verdict.slice(7));
    expect(out.latentMean).toBeCloseTo(esm.latentMean, 4);
    expect(Math.abs(out.fid / esm.fid - 1)).toBeLessThan(1e-3);
    const gpu = await runInChromium(www, '?backend=webgpu');
    if (gpu.startsWith('SKIPPED ')) return ctx.skip();
    expect(gpu.startsWith('RESULT '), gpu).toBe(true);
    const g = JSON.parse(gpu.slice(7));
    expect(g.backend).toBe('webgpu');
    expect(g.latentMean).toBeCloseTo(esm.latentMean, 2);
  });

  const examples = readmeExamples();
  it('the root README has an example for every package', () => {
    expect(Object.keys(examples).sort()).toEqual([...PACKAGES].sort());
  });
  for (const name of Object.keys(examples)) {
    it(`README example of @fae/${name} runs as written and exits by itself`, async () => {
      const r = await runNode(full, `readme-${name}.mjs`);
      expect(r.stdout.trim().length).toBeGreaterThan(0);
      expect(r.stdout).not.toMatch(/NaN/);
    });
  }
});

describe('package checkers on every tarball', () => {
  it('publint reports nothing (errors, warnings or suggestions)', async () => {
    const { publint } = await import('publint');
    const { formatMessage } = await import('publint/utils');
    for (const p of PACKAGES) {
      const { messages, pkg } = await publint({ pkgDir: join(ROOT, 'packages', p), pack: 'npm', strict: true });
      expect(messages.map((m) => `@fae/${p}: ${formatMessage(m, pkg)}`)).toEqual([]);
    }
  });

  it('@arethetypeswrong/cli finds no problem (profile node16: every entry under CJS and ESM, bundler)', async () => {
    const attw = join(ROOT, 'node_modules', '@arethetypeswrong', 'cli', 'dist', 'index.js');
    for (const p of PACKAGES) {
      const r = await run(NODE, [attw, tarballs[`@fae/${p}`], '--profile', 'node16', '--format', 'ascii', '--no-color'], { cwd: work, timeoutMs: 120_000 });
      // exit 0: no problem under node16 (CJS and ESM) or bundler resolution; node10 (no `exports`
      // support, Node < 12.7) cannot see subpath entry points such as @fae/core/backends/wasm
      expect(r.code, describeRun(`attw @fae/${p}`, r)).toBe(0);
      const problems = r.stdout.split('\n').filter((l) => /💀|❌|⚠️|🐛|🥴|👺|❗/u.test(l) && !l.includes('(ignored'));
      expect(problems, r.stdout).toEqual([]);
    }
  });
});

describe('release', () => {
  it('every tarball ships LICENSE, README.md, types for import and require, and no source maps or sources', async () => {
    for (const p of PACKAGES) {
      const r = await run('tar', ['tzf', tarballs[`@fae/${p}`]], { cwd: work });
      const files = r.stdout.split('\n').filter(Boolean);
      expect(files).toContain('package/LICENSE');
      expect(files).toContain('package/README.md');
      expect(files).toContain('package/dist/node/index.d.ts');
      expect(files).toContain('package/dist/node/index.d.cts');
      expect(files.filter((f) => f.endsWith('.map') || f.startsWith('package/src/'))).toEqual([]);
    }
  });

  it('`changeset version` (on a copy) turns the pending changesets into first versions and changelogs', async () => {
    const copy = join(work, 'changesets');
    mkdirSync(copy, { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(copy, 'package.json'));
    cpSync(join(ROOT, '.changeset'), join(copy, '.changeset'), { recursive: true });
    for (const group of ['packages', 'tools', 'examples']) {
      for (const d of readdirSync(join(ROOT, group))) {
        const pj = join(ROOT, group, d, 'package.json');
        if (existsSync(pj)) cpSync(pj, join(copy, group, d, 'package.json'));
      }
    }
    const bin = join(ROOT, 'node_modules', '@changesets', 'cli', 'bin.js');
    const r = await run(NODE, [bin, 'version'], { cwd: copy, timeoutMs: 120_000 });
    expect(r.code, describeRun('changeset version', r)).toBe(0);
    for (const p of PACKAGES) {
      const pkg = JSON.parse(readFileSync(join(copy, 'packages', p, 'package.json'), 'utf8'));
      expect(pkg.version, `@fae/${p}`).toBe('0.1.0');
      for (const [dep, range] of Object.entries(pkg.dependencies ?? {})) if (dep.startsWith('@fae/')) expect(range, `${p} -> ${dep}`).toBe('^0.1.0');
      const log = readFileSync(join(copy, 'packages', p, 'CHANGELOG.md'), 'utf8');
      expect(log).toMatch(new RegExp(`^# @fae/${p}\\n\\n## 0\\.1\\.0\\n`));
      expect(log).toMatch(/### Minor Changes/);
    }
    expect(readdirSync(join(copy, '.changeset')).filter((f) => f.endsWith('.md') && f !== 'README.md')).toEqual([]);
  });
});
