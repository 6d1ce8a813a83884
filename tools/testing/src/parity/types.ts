// The parity runner's plug-in interface. Each model package contributes a handler in
// tools/testing/src/parity/handlers/<name>.ts and adds it to handlers/index.ts.
// A handler recognises a fixture directory by its CONTENTS (files, config.json's class/model_type,
// the tensor names in io.safetensors), never by the folder's name.

export interface FixtureFiles {
  dir: string;
  /** File names present in the directory. */
  files: string[];
  /** Parsed config.json, meta.json where present. */
  config?: Record<string, unknown>;
  meta?: Record<string, unknown>;
  /** Tensor names in io.safetensors, where present. */
  ioKeys?: string[];
}

export interface ParityOutput {
  /** Output name, e.g. 'last_hidden_state'. */
  name: string;
  maxAbs: number;
  rel: number;
  /** Tolerance it was judged by (default 1e-4 relative). */
  tol: number;
  pass: boolean;
  note?: string;
  /**
   * The io.safetensors key this output was judged against (e.g. 'output.last_hidden_state'). The
   * runner fails a fixture for every `output.*` tensor that no output names here, so a handler cannot
   * pass a fixture while ignoring some of its reference outputs.
   */
  refKey?: string;
}

export interface ParityHandler {
  /** Kind of fixture, e.g. 'dinov2', 'lightningdit', 'torch_checkpoint'. */
  name: string;
  /** True when this handler implements the fixture. */
  detect(f: FixtureFiles): boolean;
  /**
   * Runs the fixture on the active tfjs backend; must leave no tensors behind. Every `output.*` tensor
   * of io.safetensors must be named by some returned output's `refKey`. NaN is a mismatch unless the
   * reference is NaN at that element and the handler says why (errorStats' `nanWhy`, in the note).
   */
  run(f: FixtureFiles): Promise<ParityOutput[]>;
}
