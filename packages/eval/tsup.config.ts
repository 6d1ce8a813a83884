import { defineConfig } from 'tsup';
export default defineConfig({
  entry: { index: 'src/index.ts', 'fae-eval': 'src/cli/fae-eval.ts' },
  format: ['esm'],
  dts: { entry: { index: 'src/index.ts' } },
  sourcemap: true,
  clean: true,
  target: 'es2022',
  external: [/^@tensorflow\//, /^@fae\//, 'webgpu'],
});
