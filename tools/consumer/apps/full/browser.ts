// Browser: the full pipeline bundled by esbuild with no externals; `?backend=webgpu` runs it on WebGPU
// where the browser offers an adapter (else it reports SKIPPED).
import '@fae/core/backends/wasm';
import '@fae/core/backends/webgpu';
import { runFull } from './run-full.mjs';

async function main(): Promise<void> {
  const backend = new URLSearchParams(location.search).get('backend') ?? 'wasm';
  const gpu = (navigator as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  if (backend === 'webgpu' && !(gpu && (await gpu.requestAdapter()))) {
    console.log('SKIPPED this browser offers no WebGPU adapter');
    return;
  }
  console.log(`RESULT ${JSON.stringify(await runFull(backend))}`);
}
main().catch((e) => console.log(`FAILED ${(e as Error).stack ?? e}`));
