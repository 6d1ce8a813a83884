import { faePackage } from '../../tsup.shared';
export default faePackage({
  entry: {
    index: 'src/index.ts',
    'backends/cpu': 'src/backends/cpu.ts',
    'backends/wasm': 'src/backends/wasm.ts',
    'backends/webgpu': 'src/backends/webgpu.ts',
  },
});
