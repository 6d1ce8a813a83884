// Parity of @fae/eval's metrics against torch-fidelity (fixture eval/metrics): FID on float64
// features (Frechet distance of our streaming float64 statistics), Inception Score (10 splits, no
// shuffle) on the logits, precision / recall (k = 3, real = features_real; torch-fidelity's reporting
// convention, see @fae/eval precision-recall.ts). The reference numbers are in meta.json; all are
// compared at 1e-6 relative.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseSafetensors } from '@fae/core';
import { FeatureStatistics, frechetDistanceDetails, inceptionScore, precisionRecall } from '@fae/eval';
import type { FixtureFiles, ParityHandler, ParityOutput } from '../types.js';

const TOL = 1e-6;

function scalar(name: string, got: number, want: number, note?: string): ParityOutput {
  const maxAbs = Math.abs(got - want);
  const rel = want === 0 ? maxAbs : maxAbs / Math.abs(want);
  return { name, maxAbs, rel, tol: TOL, pass: rel <= TOL, note: note ?? `${got} vs ${want}` };
}

/** Computes every metric of the fixture; one output per number in meta.json. */
export async function runMetricsFixture(dir: string): Promise<ParityOutput[]> {
  const meta = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8')) as Record<string, number>;
  const io = parseSafetensors(new Uint8Array(await readFile(join(dir, 'io.safetensors'))), join(dir, 'io.safetensors'));
  const matrix = (key: string) => {
    const [rows, dim] = io.info(key)!.shape;
    return { data: io.readSync(key) as Float64Array | Float32Array, rows, dim };
  };
  const real = matrix('input.features_real');
  const fake = matrix('input.features_fake');
  const logits = matrix('input.logits');
  const statsOf = (m: { data: ArrayLike<number>; rows: number; dim: number }) => new FeatureStatistics(m.dim).add(m.data, m.rows).toGaussian();
  const out: ParityOutput[] = [];
  const fid = frechetDistanceDetails(statsOf(real), statsOf(fake));
  out.push(scalar('fid', fid.distance, meta.fid, `${fid.distance} vs ${meta.fid} (${fid.method}, ${fid.ms.toFixed(1)} ms)`));
  const eig = frechetDistanceDetails(statsOf(real), statsOf(fake), { method: 'eigen' });
  out.push(scalar('fid (eigen route)', eig.distance, meta.fid));
  const is = inceptionScore(logits.data, logits.dim, { splits: 10 });
  out.push(scalar('inception_score_mean', is.mean, meta.inception_score_mean));
  out.push(scalar('inception_score_std', is.std, meta.inception_score_std));
  // torch-fidelity's usual call (input1 = generated, input2 = real) reports precision and recall
  // swapped relative to the ADM evaluator; the fixture's numbers are torch-fidelity's.
  const pr = await precisionRecall(real, fake, { k: 3, compute: 'js', convention: 'torch-fidelity' });
  out.push(scalar('precision (torch-fidelity convention)', pr.precision, meta.precision));
  out.push(scalar('recall (torch-fidelity convention)', pr.recall, meta.recall));
  const adm = await precisionRecall(real, fake, { k: 3, compute: 'js' });
  out.push(scalar('ADM precision = torch-fidelity recall', adm.precision, meta.recall));
  return out;
}

export const metricsHandler: ParityHandler = {
  name: 'fid_metrics',
  detect: (f: FixtureFiles) =>
    !!f.ioKeys?.includes('input.features_real') && !!f.ioKeys?.includes('input.features_fake') && typeof f.meta?.fid === 'number',
  run: (f: FixtureFiles) => runMetricsFixture(f.dir),
};
