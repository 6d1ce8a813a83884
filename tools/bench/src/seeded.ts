// Seeded random weights for the benchmarks: constructors that take no seed draw their initial values
// from tfjs's unseeded generators, which seed themselves from Math.random(); @fae/core's
// withSeededRandom makes Math.random a seeded stream while they run, so the same models get the same
// weights in every run. Speed does not depend on the values; this only makes runs repeatable.
export { withSeededRandom } from '@fae/core';
