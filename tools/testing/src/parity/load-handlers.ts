// Loads the parity handlers. Normally handlers/index.ts (HANDLERS, in detection order); if that fails
// to load (one handler's package is broken or mid-change), each handlers/*.ts is loaded on its own so
// the others still run, and the failures are reported. A fixture whose handler failed to load is then
// "unknown", which fails the run.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ParityHandler } from './types.js';

export interface LoadedHandlers {
  handlers: ParityHandler[];
  /** Handler files that could not be loaded, with why. */
  errors: Array<{ file: string; error: string }>;
}

const isHandler = (x: unknown): x is ParityHandler =>
  !!x && typeof x === 'object' && typeof (x as ParityHandler).name === 'string' && typeof (x as ParityHandler).detect === 'function' && typeof (x as ParityHandler).run === 'function';

export async function loadHandlers(): Promise<LoadedHandlers> {
  try {
    const { HANDLERS } = await import('./handlers/index.js');
    return { handlers: HANDLERS, errors: [] };
  } catch (e) {
    const dir = join(dirname(fileURLToPath(import.meta.url)), 'handlers');
    const handlers: ParityHandler[] = [];
    const errors: LoadedHandlers['errors'] = [{ file: 'handlers/index.ts', error: (e as Error).message }];
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts') && n !== 'index.ts').sort()) {
      try {
        const mod = await import(pathToFileURL(join(dir, f)).href);
        handlers.push(...Object.values(mod).filter(isHandler));
      } catch (err) {
        errors.push({ file: `handlers/${f}`, error: (err as Error).message });
      }
    }
    return { handlers, errors };
  }
}
