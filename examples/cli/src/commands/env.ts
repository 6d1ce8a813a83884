// What every command gets: the parsed command line, the output streams, the output folder, a logger
// and the backend it runs on.
import type { ParsedCommand } from '../args.js';
import type { MainIO } from '../main.js';

export interface Env {
  p: ParsedCommand;
  io: MainIO;
  out: string;
  log: (s: string) => void;
  backend: string;
}
