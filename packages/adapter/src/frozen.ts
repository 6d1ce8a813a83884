// Moved to @fae/core (generic helpers): re-exported here for one version so existing imports keep
// working. Import them from '@fae/core'.
export {
  /** @deprecated import from '@fae/core' */
  freezeParameter,
  /** @deprecated import from '@fae/core' */
  sincosTable,
} from '@fae/core';
