import { FaeError } from '@fae/core';

/** A data file or folder that cannot be used: names the path and what was expected. */
export class InputDataError extends FaeError {
  constructor(readonly path: string, problem: string, cause?: unknown) {
    super('INPUT_DATA', `${path}: ${problem}`, { cause });
  }
}
