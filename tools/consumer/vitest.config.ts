import { faeVitestConfig } from '../../vitest.shared';
export default faeVitestConfig(import.meta.url);
