// Errors of the `fae` app. Everything the user can get wrong (arguments, files, folders) becomes a
// typed error with a message that says what to do; the entry point prints it and exits non-zero.
import { FaeError } from '@fae/core';

/** A bad command line: unknown command or option, a missing or malformed value. Exit code 2. */
export class UsageError extends FaeError {
  constructor(problem: string, readonly command?: string) {
    super('USAGE', `${problem}\nRun \`fae ${command ? `${command} ` : ''}--help\` for usage.`);
  }
}

/** A file or folder the user named cannot be read or is not what it should be. Exit code 1. */
export class InputFileError extends FaeError {
  constructor(readonly path: string, problem: string, cause?: unknown) {
    super('INPUT_FILE', `${path}: ${problem}`, { cause });
  }
}
