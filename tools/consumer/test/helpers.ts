// Helpers of the consumer test: pack the workspace packages, make fresh projects outside the
// workspace from the tarballs, run commands with a deadline, serve a folder to Chromium.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const PACKAGES = ['core', 'encoders', 'adapter', 'decoders', 'diffusion', 'flow', 'eval', 'pipeline'] as const;
export type PackageDir = (typeof PACKAGES)[number];

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  ms: number;
}

/** Runs a command; kills it (and reports timedOut) after `timeoutMs`. Never throws on a non-zero exit. */
export function run(cmd: string, args: string[], opts: { cwd: string; timeoutMs?: number; env?: Record<string, string> }): Promise<RunResult> {
  const t0 = Date.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr, timedOut, ms: Date.now() - t0 });
    });
  });
}

/** A failed command's output, for assertion messages. */
export function describeRun(what: string, r: RunResult): string {
  return `${what}: exit ${r.code}${r.signal ? ` (${r.signal})` : ''}${r.timedOut ? ' TIMED OUT (the process did not exit by itself)' : ''} after ${r.ms} ms\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`;
}

/** The JSON after `RESULT ` on the script's last such line. */
export function resultOf(stdout: string): any {
  const line = stdout.split('\n').filter((l) => l.startsWith('RESULT ')).pop();
  if (!line) throw new Error(`no RESULT line in:\n${stdout}`);
  return JSON.parse(line.slice('RESULT '.length));
}

/** Packs every package into `dir`; returns package name -> absolute tarball path. */
export async function packAll(dir: string): Promise<Record<string, string>> {
  mkdirSync(dir, { recursive: true });
  const args = ['pack', '--json', '--pack-destination', dir, ...PACKAGES.flatMap((p) => ['-w', `packages/${p}`])];
  const r = await run('npm', args, { cwd: ROOT, timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(describeRun('npm pack', r));
  const packed = JSON.parse(r.stdout) as Array<{ name: string; filename: string }>;
  return Object.fromEntries(packed.map((p) => [p.name, join(dir, p.filename)]));
}

/** The version of a package installed in the workspace (so fresh projects pin what was tested here). */
export function workspaceVersion(name: string): string {
  return JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
}

/** Writes a fresh project (package.json with the given dependencies, then files) and installs it. */
export async function makeProject(dir: string, deps: Record<string, string>, files: Record<string, string>): Promise<void> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'fae-consumer-app', private: true, type: 'commonjs', dependencies: deps }, null, 2));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  const r = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', '--loglevel=error'], { cwd: dir, timeoutMs: 240_000 });
  if (r.code !== 0) throw new Error(describeRun(`npm install in ${dir}`, r));
}

/** Copies `from` (a file of this workspace) into a project. */
export function copyInto(dir: string, from: string, to: string): void {
  mkdirSync(dirname(join(dir, to)), { recursive: true });
  copyFileSync(from, join(dir, to));
}

/** Copies tfjs-backend-wasm's .wasm files next to a bundle. */
export function copyWasmFiles(project: string, www: string): void {
  const dist = join(project, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist');
  for (const f of readdirSync(dist).filter((n) => n.endsWith('.wasm'))) copyFileSync(join(dist, f), join(www, f));
}

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };

/** Serves `dir` on 127.0.0.1 (an ephemeral port). */
export async function serve(dir: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = join(dir, new URL(req.url ?? '/', 'http://x').pathname);
    try {
      const body = readFileSync(path);
      res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { server, url: `http://127.0.0.1:${port}` };
}

/** The ```js block after each `<!-- consumer-example: NAME -->` marker of the root README. */
export function readmeExamples(): Record<string, string> {
  const text = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/<!-- consumer-example: ([a-z]+) -->\n```js\n([\s\S]*?)\n```/g)) out[m[1]] = `${m[2]}\n`;
  return out;
}
