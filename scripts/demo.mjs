#!/usr/bin/env node
// `npm run demo`, the README's main job. Runs the `fae` CLI's demo (examples/cli: FAE end to end on
// MNIST digits with shipped checkpoints) where that example is present; otherwise a smoke path:
// starts a backend and checks our LightningDiT and TARFlow against their PyTorch fixtures (where
// ../shared/fixtures is present), printing what ran.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const cli = join(root, 'examples', 'cli', 'bin', 'fae.mjs');
const run = (cmd, a) => spawnSync(cmd, a, { cwd: root, stdio: 'inherit' }).status ?? 1;

if (existsSync(cli)) process.exit(run(process.execPath, [cli, 'demo', ...args]));

console.log('examples/cli is not present: running the smoke path (backend + generator parity on the shared fixtures)');
const shared = process.env.FAE_SHARED ?? join(root, '..', 'shared');
const fixtures = ['lightningdit_0', 'lightningdit_1', 'tarflow_0'].map((f) => join(shared, 'fixtures', 'generators', f)).filter((d) => existsSync(d));
if (!fixtures.length) {
  console.log(`no fixtures under ${shared}/fixtures (set FAE_SHARED); nothing to check`);
  process.exit(0);
}
process.exit(run(process.execPath, ['--import', 'tsx', join(root, 'tools', 'testing', 'src', 'parity', 'cli.ts'), ...fixtures, '--backend', args.includes('--backend') ? args[args.indexOf('--backend') + 1] : 'wasm']));
