// `npm run presets`: one line per named preset of every package, `<package> <preset> <parameters>`.
// Each package exports a `PRESETS` table from its src/index.ts; the shapes differ a little between
// packages (a record name -> { parameters } or name -> { config, parameters }, an array of
// { name, parameters }, a Map, parameter counts as numbers or functions), so this reads them all.
// Sources are loaded through tsx with examples/cli's tsconfig (it maps @fae/* to the sources), so no
// build is needed; TensorFlow.js loads as in examples/cli's `fae` command.
import { fileURLToPath, pathToFileURL } from 'node:url';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { register as registerHooks } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsconfig = join(root, 'examples', 'cli', 'tsconfig.json');
// TensorFlow.js from its ESM build, as bundlers and vitest load it (see the hooks file).
registerHooks(pathToFileURL(join(root, 'examples', 'cli', 'bin', 'tfjs-esm-hooks.mjs')).href);
registerTsx({ tsconfig });
const PACKAGES = ['core', 'encoders', 'adapter', 'decoders', 'diffusion', 'flow', 'eval'];

type Row = { pkg: string; preset: string; parameters: number };

function countOf(entry: unknown): number | undefined {
  if (typeof entry === 'number') return entry;
  if (!entry || typeof entry !== 'object') return undefined;
  const e = entry as Record<string, unknown>;
  for (const k of ['parameters', 'parameterCount', 'params', 'numParameters']) {
    const v = e[k];
    if (typeof v === 'number') return v;
    if (typeof v === 'bigint') return Number(v);
    if (typeof v === 'function') {
      const r = (v as () => unknown).call(entry);
      if (typeof r === 'number') return r;
    }
  }
  return undefined;
}

/** Flattens the PRESETS shapes into rows (nested groups such as { featureDecoder: { ... } } too). */
export function presetRows(pkg: string, presets: unknown, prefix = ''): Row[] {
  const rows: Row[] = [];
  const visit = (name: string, entry: unknown) => {
    const n = countOf(entry);
    if (n !== undefined) rows.push({ pkg, preset: prefix + name, parameters: n });
    else if (entry && typeof entry === 'object') rows.push(...presetRows(pkg, entry, `${prefix}${name}/`));
  };
  if (presets instanceof Map) for (const [k, v] of presets) visit(String(k), v);
  else if (Array.isArray(presets)) {
    for (const [i, v] of presets.entries()) visit(String((v as { name?: string; id?: string })?.name ?? (v as { id?: string })?.id ?? i), v);
  } else if (presets && typeof presets === 'object') for (const [k, v] of Object.entries(presets)) visit(k, v);
  return rows;
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const problems: string[] = [];
  for (const pkg of PACKAGES) {
    const entry = join(root, 'packages', pkg, 'src', 'index.ts');
    if (!existsSync(entry)) {
      problems.push(`@fae/${pkg}: no src/index.ts yet`);
      continue;
    }
    let mod: Record<string, unknown>;
    try {
      mod = (await import(pathToFileURL(entry).href)) as Record<string, unknown>;
    } catch (e) {
      problems.push(`@fae/${pkg}: cannot be loaded (${(e as Error).message.split("\n")[0]})`); if (process.env.FAE_DEBUG) console.error(e);
      continue;
    }
    if (!('PRESETS' in mod)) continue; // packages without presets (core, eval) are simply absent
    const found = presetRows(`@fae/${pkg}`, mod.PRESETS);
    if (!found.length) problems.push(`@fae/${pkg}: PRESETS has no entry with a parameter count`);
    rows.push(...found);
  }
  for (const r of rows) console.log(`${r.pkg} ${r.preset} ${r.parameters}`);
  for (const p of problems) console.error(`presets: ${p}`);
  if (!rows.length) process.exitCode = 1;
}

await main();
