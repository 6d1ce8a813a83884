// Import-graph check: every TypeScript file under packages/*/src, examples/*/src and tools/*/src
// with its static imports (relative paths, and `@fae/<name>` resolved to that package's src/index.ts);
// reports cycles between files (strongly connected components of more than one file, or a file that
// imports itself). `node --import tsx tools/testing/src/import-graph.ts` prints them and exits 1 when there are any;
// tests call importCycles().
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function walk(dir: string, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (/\.(ts|mts|tsx)$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Source files of the workspace (src folders only: tests and benches are leaves). */
export function sourceFiles(root = ROOT): string[] {
  const files: string[] = [];
  for (const group of ['packages', 'examples', 'tools']) {
    const base = join(root, group);
    if (!existsSync(base)) continue;
    for (const pkg of readdirSync(base)) walk(join(base, pkg, 'src'), files);
  }
  return files;
}

const IMPORT = /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+\s+from\s+)?['"]([^'"]+)['"]/g;

function packageIndex(root: string, name: string): string | null {
  for (const group of ['packages', 'tools', 'examples']) {
    const p = join(root, group, name, 'src', 'index.ts');
    if (existsSync(p)) return p;
  }
  return null;
}

function resolveImport(root: string, from: string, spec: string): string | null {
  if (spec.startsWith('.')) {
    const base = resolve(dirname(from), spec);
    for (const c of [base, base.replace(/\.js$/, '.ts'), base.replace(/\.mjs$/, '.mts'), `${base}.ts`, join(base, 'index.ts')]) {
      if (existsSync(c) && statSync(c).isFile()) return c;
    }
    return null;
  }
  const m = /^@fae\/([\w-]+)$/.exec(spec);
  return m ? packageIndex(root, m[1]) : null;
}

/** Type-only imports (`import type`) are erased at run time but still count: a cycle is a cycle. */
export function importGraph(root = ROOT): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const f of sourceFiles(root)) {
    const text = readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
    const deps = new Set<string>();
    for (const m of text.matchAll(IMPORT)) {
      const target = resolveImport(root, f, m[1]);
      if (target) deps.add(target);
    }
    graph.set(f, deps);
  }
  return graph;
}

/** Strongly connected components with a cycle (Tarjan), as repo-relative paths. */
export function importCycles(root = ROOT): string[][] {
  const graph = importGraph(root);
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const cycles: string[][] = [];
  const strong = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || graph.get(v)?.has(v)) cycles.push(comp.map((p) => relative(root, p)).sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) strong(v);
  return cycles;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const cycles = importCycles();
  for (const c of cycles) console.log(`cycle (${c.length} files):\n  ${c.join('\n  ')}`);
  console.log(cycles.length ? `${cycles.length} import cycle(s)` : `no import cycles in ${importGraph().size} files`);
  process.exit(cycles.length ? 1 : 0);
}
