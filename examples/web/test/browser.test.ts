// The browser app in real Chromium (Debian's `chromium`, driven by playwright-core): the page loads the
// shipped checkpoints, picks a backend (WebGPU, else wasm), generates digits of a class with a progress
// bar, the canvas is not blank, and a screenshot is saved under test-artifacts/.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ViteDevServer } from 'vite';
import type { BrowserContext, Page } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const app = resolve(here, '..');
const CHROMIUM = process.env.FAE_CHROMIUM ?? '/usr/bin/chromium';
const IN_CI = process.env.CI === 'true' || process.env.CI === '1';
const artifacts = resolve(app, 'test-artifacts');
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const haveChromium = existsSync(CHROMIUM);
const haveCheckpoints = existsSync(resolve(app, '..', 'cli', 'checkpoints', 'dit', 'model.safetensors'));

describe.skipIf(!IN_CI && (!haveChromium || !haveCheckpoints))(`web app in Chromium${haveChromium ? '' : ` (skipped: no ${CHROMIUM}; apt-get install -y chromium)`}`, () => {
  let server: ViteDevServer;
  let context: BrowserContext;
  let page: Page;
  let userDataDir: string;
  const logs: string[] = [];

  beforeAll(async () => {
    if (!haveChromium) throw new Error(`Chromium not found at ${CHROMIUM} (CI must run: apt-get install -y chromium)`);
    const { createServer } = await import('vite');
    server = await createServer({ configFile: resolve(app, 'vite.config.ts'), server: { port: 0, host: '127.0.0.1', strictPort: false }, logLevel: 'warn' });
    await server.listen();
    const { chromium } = await import('playwright-core');
    userDataDir = mkdtempSync(join(tmpdir(), 'fae-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: FLAGS });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (m) => logs.push(`[${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => logs.push(`[pageerror] ${e.message}`));
  });

  afterAll(async () => {
    await context?.close();
    await server?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  it('loads, generates a class with progress, draws a non-blank canvas, saves a screenshot', async () => {
    const url = server.resolvedUrls!.local[0];
    await page.goto(url);
    try {
      await page.waitForSelector('#status[data-state="ready"]', { timeout: 240_000 });
    } catch (e) {
      throw new Error(`page did not become ready: ${await page.textContent('#status')} ${await page.textContent('#error')}\n${logs.join('\n')}`);
    }
    const backend = await page.evaluate(() => document.body.dataset.backend);
    expect(['webgpu', 'wasm']).toContain(backend);
    await page.selectOption('#digit', '7');
    await page.selectOption('#count', '4');
    const progressSeen: number[] = [];
    await page.exposeFunction('faeRecordProgress', (v: number) => progressSeen.push(v));
    await page.evaluate(() => {
      const p = document.getElementById('progress') as HTMLProgressElement;
      new MutationObserver(() => (window as any).faeRecordProgress(p.value)).observe(p, { attributes: true });
      const orig = Object.getOwnPropertyDescriptor(HTMLProgressElement.prototype, 'value')!;
      Object.defineProperty(p, 'value', { get: () => orig.get!.call(p), set: (v: number) => { orig.set!.call(p, v); (window as any).faeRecordProgress(v); } });
    });
    await page.click('#generate');
    await page.waitForSelector('#samples[data-state="done"]', { timeout: 240_000 });
    // The progress bar moved through intermediate values and ended full.
    expect(progressSeen.some((v) => v > 0 && v < 1)).toBe(true);
    expect(await page.evaluate(() => (document.getElementById('progress') as HTMLProgressElement).value)).toBe(1);
    // The canvas is not blank: its pixels vary (white background, dark-to-light digits).
    const stats = await page.evaluate(() => {
      const c = document.getElementById('samples') as HTMLCanvasElement;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let min = 255;
      let max = 0;
      let sum = 0;
      for (let i = 0; i < d.length; i += 4) {
        min = Math.min(min, d[i]);
        max = Math.max(max, d[i]);
        sum += d[i];
      }
      return { width: c.width, height: c.height, min, max, mean: sum / (d.length / 4) };
    });
    expect(stats.width).toBeGreaterThan(28);
    expect(stats.max - stats.min).toBeGreaterThan(100);
    expect(await page.getAttribute('#reconstructions', 'data-state')).toBe('done');
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, 'web-app.png'), fullPage: true });
    expect(existsSync(join(artifacts, 'web-app.png'))).toBe(true);
  });
});
