// The command line: every command parses, every mistake is a UsageError (exit code 2) that names
// the problem, --help prints usage with exit code 0.
import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../src/args.js';
import { UsageError } from '../src/errors.js';
import { main } from '../src/main.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s) }, out, err };
}

function usageError(argv: string[]): UsageError {
  try {
    parseCommandLine(argv);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return e as UsageError;
  }
  throw new Error(`expected a UsageError for: fae ${argv.join(' ')}`);
}

describe('fae command line', () => {
  it('parses global and command options', () => {
    const p = parseCommandLine(['sample', '--generator', 'tarflow', '--labels', '1,2, 3', '--per-class', '4', '--backend', 'cpu', '--seed', '7', '--out', 'o', '--steps', '20', '--cfg', '1.5']);
    expect(p.command).toBe('sample');
    expect(p.global).toEqual({ models: undefined, backend: 'cpu', seed: 7, out: 'o', quiet: false, threads: 1 });
    expect(p.options).toEqual({ generator: 'tarflow', labels: [1, 2, 3], perClass: 4, steps: 20, cfg: 1.5 });
    const t = parseCommandLine(['train', 'stage-ib', '--steps', '10', '--batch', '8', '--lr', '3e-4', '--models', 'm']);
    expect(t.options).toEqual({ stage: 'stage-ib', steps: 10, batch: 8, lr: 3e-4 });
    expect(t.global.models).toBe('m');
    const d = parseCommandLine(['demo', '--train', '--quiet']);
    expect(d.options.train).toBe(true);
    expect(d.global.quiet).toBe(true);
    expect(d.global.backend).toBe('wasm');
    const r = parseCommandLine(['reconstruct', 'a.png', 'b.png']);
    expect(r.positionals).toEqual(['a.png', 'b.png']);
    expect(r.options.mnist).toBeUndefined();
    expect(parseCommandLine(['encode']).options.mnist).toBe(16);
    expect(parseCommandLine(['eval', '--generator', 'tarflow', '--per-class', '5']).options).toEqual({ generator: 'tarflow', perClass: 5 });
    expect(parseCommandLine(['eval']).options.generator).toBeUndefined();
    expect(parseCommandLine(['train', 'dit-pixels', '--curve-per-class', '10']).options).toEqual({ stage: 'dit-pixels', curvePerClass: 10 });
    expect(parseCommandLine(['sample', '--class', '3']).options.labels).toEqual([3]);
  });

  it('rejects bad arguments with a UsageError naming the problem', () => {
    expect(usageError(['fly']).message).toMatch(/unknown command 'fly'/);
    expect(usageError(['--seed', '1']).message).toMatch(/expected a command/);
    expect(usageError(['sample', '--bogus']).message).toMatch(/bogus/);
    expect(usageError(['sample', '--seed', 'x']).message).toMatch(/--seed expects an integer, got 'x'/);
    expect(usageError(['sample', '--backend', 'gpu']).message).toMatch(/--backend must be one of/);
    expect(usageError(['train', 'tarflow', '--curve-per-class', '10']).message).toMatch(/--curve-per-class applies to dit and dit-pixels/);
    expect(usageError(['eval', '--generator', 'vae']).message).toMatch(/--generator must be one of dit, tarflow, got 'vae'/);
    expect(usageError(['eval', '--generator', 'dit', '--data', 'x']).message).toMatch(/--generator goes without --data/);
    expect(usageError(['sample', '--generator', 'gan']).message).toMatch(/--generator must be one of dit, tarflow/);
    // a class index is checked against the loaded generator's classes when it runs (ConfigError, exit 1)
    expect(usageError(['sample', '--class=-1']).message).toMatch(/between 0 and/);
    expect(usageError(['sample', '--labels', '1,x']).message).toMatch(/integer/);
    expect(usageError(['train', 'stage-ib', '--data', 'imgs']).message).toMatch(/train all/);
    expect(usageError(['train', 'all', '--data', 'imgs', '--models', 'm']).message).toMatch(/--recipe is required/);
    expect(usageError(['train', 'all', '--recipe', 'smoke']).message).toMatch(/--models/);
    expect(usageError(['train', 'stage-ia', '--lpips', 'w']).message).toMatch(/train all/);
    expect(usageError(['train', 'all', '--recipe', 'paper-dinov2-g', '--models', 'm', '--lpips', '']).message).toMatch(/--lpips expects a value/);
    expect(parseCommandLine(['train', 'all', '--recipe', 'paper-dinov2-g', '--models', 'm', '--lpips', '/w/lpips']).options.lpips).toBe('/w/lpips');
    expect(usageError(['eval', '--images', '5']).message).toMatch(/--data/);
    expect(usageError(['sample', '--labels', '1,a']).message).toMatch(/integer, got 'a'/);
    expect(usageError(['sample', '--class', '1', '--labels', '2']).message).toMatch(/not both/);
    expect(usageError(['sample', '--cfg', 'lots']).message).toMatch(/--cfg expects a number/);
    expect(usageError(['sample', 'extra']).message).toMatch(/unexpected argument 'extra'/);
    expect(usageError(['train']).message).toMatch(/train needs a stage/);
    expect(usageError(['train', 'everything']).message).toMatch(/unknown stage 'everything'/);
    expect(usageError(['train', 'dit', '--steps', '0']).message).toMatch(/--steps must be between 1/);
    expect(usageError(['train', 'stage-ib', '--continue']).message).toMatch(/--continue applies to dit, tarflow and dit-pixels/);
    expect(parseCommandLine(['train', 'tarflow', '--continue']).options.continueTraining).toBe(true);
    expect(parseCommandLine(['train', 'dit', '--resume']).options.resume).toBe(true);
    expect(usageError(['train', 'encoder', '--resume']).message).toMatch(/--resume applies to dit, tarflow and dit-pixels, not 'encoder'/);
    expect(usageError(['train', 'dit', '--resume', '--continue']).message).toMatch(/exclude each other/);
    expect(parseCommandLine(['train', 'tarflow']).options.continueTraining).toBeUndefined();
    expect(usageError(['reconstruct', 'a.png', '--mnist', '4']).message).toMatch(/not both/);
    expect(usageError(['eval', '--models', '']).message).toMatch(/--models expects/);
    expect(usageError(['help', 'nope']).message).toMatch(/unknown command 'nope'/);
    expect(usageError(['sample', '--per-class']).message).toMatch(/per-class/);
  });

  it('prints help with exit code 0 and errors with exit code 2', async () => {
    const a = capture();
    expect(await main(['--help'], a.io)).toBe(0);
    expect(a.out.join('')).toMatch(/Usage: fae <command>/);
    for (const cmd of ['demo', 'encode', 'reconstruct', 'sample', 'eval', 'train']) expect(a.out.join('')).toContain(cmd);
    const b = capture();
    expect(await main(['train', '--help'], b.io)).toBe(0);
    expect(b.out.join('')).toMatch(/fae train <stage>/);
    const c = capture();
    expect(await main(['sample', '--backend', 'gpu'], c.io)).toBe(2);
    expect(c.err.join('')).toMatch(/^fae: --backend must be one of .*\nRun `fae sample --help` for usage\.\n$/s);
    const d = capture();
    expect(await main([], d.io)).toBe(0);
    expect(d.out.join('')).toMatch(/Commands:/);
  });
});
