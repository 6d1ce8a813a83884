// Summarises V8 CPU profiles (`node --cpu-prof`) of a benchmark run: where the CPU time of the main
// thread goes, by function (self time) and for the calls that matter on the GPU paths (inclusive
// time of tfjs's runWebGPUProgram, the engine's kernel dispatch, Dawn calls...). Prints markdown and
// writes <file>.summary.json beside each profile.
//   node cpu-profile-summary.mjs DIR_OR_FILE... [--top 30]
import { readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

interface CallFrame { functionName: string; url: string; lineNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] }

const args = process.argv.slice(2);
const topIdx = args.indexOf('--top');
const top = topIdx >= 0 ? Number(args[topIdx + 1]) : 30;
const inputs = args.filter((a, i) => !a.startsWith('--') && (topIdx < 0 || i !== topIdx + 1));
const files = inputs.flatMap((p) => (statSync(p).isDirectory() ? readdirSync(p).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(p, f)) : [p]));
if (!files.length) throw new Error(`no .cpuprofile files in ${inputs.join(', ') || '(no arguments)'}`);

/** Inclusive times are reported for frames whose name contains one of these. */
const WATCH = ['runWebGPUProgram', 'recordAndSubmit', 'makeUniforms', 'createBindGroup', 'getAndSavePipeline', 'submitQueue', 'runKernelFunc', 'acquireBuffer', 'writeBuffer', 'dispatchWorkgroups', 'beginComputePass', 'scopedRun', 'backpropagateGradients', 'disposeData', 'garbage collector'];

const label = (f: CallFrame) => `${f.functionName || '(anonymous)'}${f.url ? ` ${f.url.split('/').pop()}:${f.lineNumber + 1}` : ''}`;

for (const file of files) {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  p.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const idleUs = [...selfUs].filter(([id]) => byId.get(id)!.callFrame.functionName === '(idle)').reduce((a, [, t]) => a + t, 0);
  const self = new Map<string, number>();
  for (const [id, t] of selfUs) {
    const f = byId.get(id)!.callFrame;
    // native code (Dawn's bindings, V8 builtins) has no URL: name it by its JS caller
    const up = parent.get(id);
    const k = !f.url && !f.functionName.startsWith('(') && up !== undefined ? `native ${f.functionName || '(anonymous)'} <- ${label(byId.get(up)!.callFrame)}` : label(f);
    self.set(k, (self.get(k) ?? 0) + t);
  }
  // inclusive: each sample counts once for every distinct watched name on its stack
  const inclusive = new Map<string, number>();
  for (const [id, t] of selfUs) {
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const name = byId.get(cur)!.callFrame.functionName;
      for (const w of WATCH) if (name.includes(w)) seen.add(w);
    }
    for (const w of seen) inclusive.set(w, (inclusive.get(w) ?? 0) + t);
  }
  const busyUs = totalUs - idleUs;
  const pct = (t: number) => `${((100 * t) / Math.max(busyUs, 1)).toFixed(1)}%`;
  const selfTop = [...self].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top);
  console.log(`\n## ${file}\nsampled ${(totalUs / 1000).toFixed(0)} ms, of which idle ${(idleUs / 1000).toFixed(0)} ms (waiting on the GPU or I/O); busy ${(busyUs / 1000).toFixed(0)} ms`);
  console.log('| inclusive (watched frames) | ms | of busy |\n| --- | --- | --- |');
  for (const [k, t] of [...inclusive].sort((a, b) => b[1] - a[1])) console.log(`| ${k} | ${(t / 1000).toFixed(1)} | ${pct(t)} |`);
  console.log('| self time (top) | ms | of busy |\n| --- | --- | --- |');
  for (const [k, t] of selfTop) console.log(`| ${k} | ${(t / 1000).toFixed(1)} | ${pct(t)} |`);
  const summary = { file, totalMs: totalUs / 1000, idleMs: idleUs / 1000, busyMs: busyUs / 1000, inclusiveMs: Object.fromEntries([...inclusive].map(([k, t]) => [k, t / 1000])), selfTopMs: selfTop.map(([k, t]) => ({ frame: k, ms: t / 1000 })) };
  writeFileSync(`${file}.summary.json.tmp`, JSON.stringify(summary, null, 1));
  renameSync(`${file}.summary.json.tmp`, `${file}.summary.json`);
}
