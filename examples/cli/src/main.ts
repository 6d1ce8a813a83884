// Entry point of `fae`: parse, dispatch, print typed errors, return the exit code.
import { FaeError } from '@fae/core';
import { parseCommandLine, type ParsedCommand } from './args.js';
import { COMMAND_HELP, MAIN_HELP } from './help.js';
import { UsageError } from './errors.js';

export interface MainIO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

const defaultIO: MainIO = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
};

/** Runs `fae` with `argv` (no node / script entries). Returns the exit code (0, 1 or 2). */
export async function main(argv: string[], io: MainIO = defaultIO): Promise<number> {
  if (argv[0] === 'shard' || argv[0] === 'launch') {
    // sharded per-item work and the one-host launcher (commands/shards.ts)
    try {
      const m = await import('./commands/shards.js');
      await (argv[0] === 'shard' ? m.runShardCommand : m.runLaunchCommand)(argv.slice(1), io);
      return 0;
    } catch (e) {
      return report(e, io);
    }
  }
  let parsed: ParsedCommand;
  try {
    parsed = parseCommandLine(argv);
  } catch (e) {
    return report(e, io);
  }
  if (parsed.command === 'help') {
    io.stdout(`${parsed.helpFor ? COMMAND_HELP[parsed.helpFor] : MAIN_HELP}\n`);
    return 0;
  }
  try {
    const { runCommand } = await import('./commands/index.js');
    await runCommand(parsed, io);
    return 0;
  } catch (e) {
    return report(e, io);
  }
}

function report(e: unknown, io: MainIO): number {
  if (e instanceof UsageError) {
    io.stderr(`fae: ${e.message}\n`);
    return 2;
  }
  if (e instanceof FaeError) {
    io.stderr(`fae: ${e.name}: ${e.message}\n`);
    if (process.env.FAE_DEBUG) io.stderr(`${e.stack}\n`);
    return 1;
  }
  const code = (e as NodeJS.ErrnoException)?.code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
    // A file-system error (a bad --out, a full disk, a missing permission): the message names the path.
    io.stderr(`fae: ${(e as Error).message}\n`);
    if (process.env.FAE_DEBUG) io.stderr(`${(e as Error).stack}\n`);
    return 1;
  }
  io.stderr(`fae: unexpected error: ${(e as Error)?.stack ?? String(e)}\n`);
  return 1;
}
