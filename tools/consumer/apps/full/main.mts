// Node ESM: the full pipeline on the wasm backend (or the backend named on the command line).
import { runFull } from './run-full.mjs';

const backend = (globalThis as { process?: { argv: string[] } }).process?.argv[2] ?? 'wasm';
console.log(`RESULT ${JSON.stringify(await runFull(backend))}`);
