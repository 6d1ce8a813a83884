import { faePackage } from '../../tsup.shared';
export default faePackage({ entry: { index: 'src/index.ts' } });
