// Typed errors. Every error says which file / tensor / backend is at fault and what was expected,
// so a user can act on it without reading our source.

/** Base class of every error thrown by @fae packages. `code` is stable; match on it, not on text. */
export class FaeError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A backend could not start: the package is missing, no adapter, init failed. */
export class BackendUnavailableError extends FaeError {
  constructor(readonly backend: string, reason: string, cause?: unknown) {
    super('BACKEND_UNAVAILABLE', `backend '${backend}' is unavailable: ${reason}`, { cause });
  }
}

/** A weights file (safetensors, PyTorch zip/pickle, npz, ...) is malformed or unsupported. */
export class WeightsFormatError extends FaeError {
  constructor(readonly file: string, readonly problem: string, cause?: unknown) {
    super('WEIGHTS_FORMAT', `${file}: ${problem}`, { cause });
  }
}

/** A PyTorch pickle asked for a global outside the weights-only allowlist; nothing was executed. */
export class UnsafePickleError extends WeightsFormatError {
  constructor(file: string, readonly global: string) {
    super(file, `refused to load: the pickle asks for '${global}', which is not on the weights-only allowlist (nothing was executed)`);
    (this as { code: string }).code = 'UNSAFE_PICKLE';
  }
}

export interface StateDictProblem {
  key: string;
  kind: 'missing' | 'unexpected' | 'shape' | 'dtype';
  expected?: string;
  found?: string;
}

/** loadStateDict found missing, unexpected or wrongly shaped tensors; all of them are listed. */
export class StateDictError extends FaeError {
  constructor(readonly module: string, readonly problems: StateDictProblem[]) {
    const lines = problems.map((p) =>
      p.kind === 'missing' ? `  missing: ${p.key}${p.expected ? ` (expected ${p.expected})` : ''}`
      : p.kind === 'unexpected' ? `  unexpected: ${p.key}${p.found ? ` (${p.found})` : ''}`
      : `  ${p.kind} mismatch: ${p.key}: expected ${p.expected}, found ${p.found}`);
    super('STATE_DICT', `${module}: state dict does not match (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`);
  }
}

/** A tensor passed to a public call has the wrong rank, shape or dtype. */
export class ShapeError extends FaeError {
  constructor(readonly tensor: string, readonly expected: string, readonly found: string) {
    super('SHAPE', `${tensor}: expected ${expected}, got ${found}`);
  }
}

/** A config file or option is invalid. */
export class ConfigError extends FaeError {
  constructor(readonly source: string, problem: string) {
    super('CONFIG', `${source}: ${problem}`);
  }
}

/** Hub / HTTP / cache problems: not found, HTTP status, integrity mismatch, offline miss. */
export class HubError extends FaeError {
  constructor(readonly resource: string, problem: string, readonly status?: number, cause?: unknown) {
    super('HUB', `${resource}: ${problem}`, { cause });
  }
}

/** Training produced a NaN/Inf: names the step and the tensor. */
export class NonFiniteError extends FaeError {
  constructor(readonly step: number, readonly tensor: string) {
    super('NON_FINITE', `non-finite value (NaN or Inf) in '${tensor}' at step ${step}`);
  }
}
