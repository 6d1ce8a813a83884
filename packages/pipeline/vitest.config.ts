import { faeVitestConfig } from '../../vitest.shared.ts';
export default faeVitestConfig(import.meta.url);
