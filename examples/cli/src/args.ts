// Command-line parsing for `fae`: node:util parseArgs per command, with every mistake turned into a
// UsageError that names the option and what was expected.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './errors.js';

export const COMMANDS = ['demo', 'encode', 'reconstruct', 'sample', 'eval', 'train'] as const;
export type CommandName = (typeof COMMANDS)[number];

export const TRAIN_STAGES = ['classifier', 'encoder', 'features', 'stage-ib', 'stage-ia', 'stage-ii', 'dit', 'tarflow', 'dit-pixels', 'all'] as const;
export type TrainStage = (typeof TRAIN_STAGES)[number];

export const BACKENDS = ['wasm', 'cpu', 'webgpu', 'auto', 'tensorflow'] as const;
export const GENERATORS = ['dit', 'tarflow'] as const;
export type GeneratorName = (typeof GENERATORS)[number];

type OptionSpec = NonNullable<ParseArgsConfig['options']>;

const GLOBAL: OptionSpec = {
  models: { type: 'string' },
  backend: { type: 'string', default: 'wasm' },
  seed: { type: 'string', default: '0' },
  out: { type: 'string' },
  quiet: { type: 'boolean', default: false },
  threads: { type: 'string', default: '1' },
  help: { type: 'boolean', short: 'h', default: false },
};

const PER_COMMAND: Record<CommandName, OptionSpec> = {
  demo: { train: { type: 'boolean', default: false }, 'per-class': { type: 'string' }, steps: { type: 'string' }, cfg: { type: 'string' } },
  encode: { mnist: { type: 'string' } },
  reconstruct: { mnist: { type: 'string' } },
  sample: {
    generator: { type: 'string', default: 'dit' },
    class: { type: 'string' },
    labels: { type: 'string' },
    'per-class': { type: 'string' },
    steps: { type: 'string' },
    cfg: { type: 'string' },
  },
  eval: { generator: { type: 'string' }, 'per-class': { type: 'string' }, steps: { type: 'string' }, cfg: { type: 'string' }, data: { type: 'string' }, images: { type: 'string' } },
  train: {
    steps: { type: 'string' }, batch: { type: 'string' }, lr: { type: 'string' }, continue: { type: 'boolean' }, resume: { type: 'boolean' }, 'curve-per-class': { type: 'string' },
    data: { type: 'string' }, recipe: { type: 'string' }, encoder: { type: 'string' }, lpips: { type: 'string' }, restart: { type: 'boolean' }, 'step-scale': { type: 'string' },
  },
};

export interface GlobalOptions {
  /** Folder, URL or hub id holding the components; undefined = the shipped checkpoints. */
  models?: string;
  backend: string;
  seed: number;
  out?: string;
  quiet: boolean;
  /** wasm threads (1 = single-threaded, the fastest for these tiny models on a busy CPU). */
  threads: number;
}

export interface ParsedCommand {
  command: CommandName | 'help';
  /** Command to print help for (with `fae <cmd> --help` or `fae help <cmd>`). */
  helpFor?: CommandName;
  global: GlobalOptions;
  positionals: string[];
  /** Command-specific options, parsed and validated. */
  options: CommandOptions;
}

export interface CommandOptions {
  stage?: TrainStage;
  train?: boolean;
  mnist?: number;
  generator?: GeneratorName;
  labels?: number[];
  perClass?: number;
  steps?: number;
  cfg?: number;
  batch?: number;
  lr?: number;
  /** train dit / tarflow / dit-pixels: start from the component already in the models folder. */
  continueTraining?: boolean;
  /** train dit / tarflow / dit-pixels: go on from the stage's last checkpoint (an interrupted run). */
  resume?: boolean;
  /** train dit / dit-pixels: samples per class at each point of the sample-quality curve (default 3). */
  curvePerClass?: number;
  /** train all / eval on a dataset: an image folder, tar shards or 'mnist' (@fae/pipeline). */
  data?: string;
  /** train all: a @fae/pipeline recipe name (smoke, digits, paper-dinov2-g, paper-siglip2). */
  recipe?: string;
  /** train all: a frozen pretrained encoder (hub id, preset or folder) instead of the recipe's. */
  encoder?: string;
  /** train all: LPIPS weights (folder with vgg16 + lpips lin files, URL or hub id) for the paper recipes' perceptual loss. */
  lpips?: string;
  /** train all: start afresh in a models folder that holds another run. */
  restart?: boolean;
  /** train all --recipe: multiplies every stage's steps (quick trials). */
  stepScale?: number;
  /** eval --data: images used (default 256). */
  images?: number;
}

export function parseInteger(value: string, option: string, command: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^-?\d+$/.test(value.trim())) throw new UsageError(`--${option} expects an integer, got '${value}'`, command);
  const n = Number(value);
  if (n < min || n > max) throw new UsageError(`--${option} must be between ${min} and ${max}, got ${n}`, command);
  return n;
}

export function parseNumber(value: string, option: string, command: string, min = -Infinity): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${option} expects a number, got '${value}'`, command);
  if (n < min) throw new UsageError(`--${option} must be >= ${min}, got ${n}`, command);
  return n;
}

function parseLabels(value: string, command: string): number[] {
  const parts = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (!parts.length) throw new UsageError(`--labels expects a comma-separated list of class indices (0, 1, ...), got '${value}'`, command);
  return parts.map((p) => parseInteger(p, 'labels', command, 0, 100_000));
}

/** Parses `argv` (without node and the script). Throws UsageError on any mistake. */
export function parseCommandLine(argv: string[]): ParsedCommand {
  const first = argv[0];
  const defaults: GlobalOptions = { backend: 'wasm', seed: 0, quiet: false, threads: 1 };
  if (first === undefined || first === '--help' || first === '-h') return { command: 'help', global: defaults, positionals: [], options: {} };
  if (first === 'help') {
    const target = argv[1];
    if (target !== undefined && !COMMANDS.includes(target as CommandName)) throw new UsageError(`unknown command '${target}' (commands: ${COMMANDS.join(', ')})`);
    return { command: 'help', helpFor: target as CommandName | undefined, global: defaults, positionals: [], options: {} };
  }
  if (first.startsWith('-')) throw new UsageError(`expected a command before options, got '${first}' (commands: ${COMMANDS.join(', ')})`);
  if (!COMMANDS.includes(first as CommandName)) throw new UsageError(`unknown command '${first}' (commands: ${COMMANDS.join(', ')})`);
  const command = first as CommandName;
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv.slice(1), options: { ...GLOBAL, ...PER_COMMAND[command] }, allowPositionals: true, strict: true });
  } catch (e) {
    // node:util's messages name the option; keep them and add the usage hint.
    throw new UsageError((e as Error).message.replace(/\. To specify a positional argument.*$/s, ''), command);
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  if (v.help) return { command: 'help', helpFor: command, global: defaults, positionals: [], options: {} };

  const backend = String(v.backend);
  if (!BACKENDS.includes(backend as (typeof BACKENDS)[number])) throw new UsageError(`--backend must be one of ${BACKENDS.join(', ')}, got '${backend}'`, command);
  const global: GlobalOptions = {
    models: v.models as string | undefined,
    backend,
    seed: parseInteger(String(v.seed), 'seed', command, 0, 2 ** 31 - 1),
    out: v.out as string | undefined,
    quiet: !!v.quiet,
    threads: parseInteger(String(v.threads), 'threads', command, 1, 256),
  };
  if (global.models === '') throw new UsageError('--models expects a folder, URL or hub id', command);
  if (global.out === '') throw new UsageError('--out expects a path', command);

  const options: CommandOptions = {};
  const positionals = [...parsed.positionals];
  if (command === 'train') {
    const stage = positionals.shift();
    if (!stage) throw new UsageError(`train needs a stage: ${TRAIN_STAGES.join(', ')}`, command);
    if (!TRAIN_STAGES.includes(stage as TrainStage)) throw new UsageError(`unknown stage '${stage}' (stages: ${TRAIN_STAGES.join(', ')})`, command);
    options.stage = stage as TrainStage;
    if (typeof v.steps === 'string') options.steps = parseInteger(v.steps, 'steps', command, 1);
    if (typeof v.batch === 'string') options.batch = parseInteger(v.batch, 'batch', command, 1, 4096);
    if (typeof v.lr === 'string') options.lr = parseNumber(v.lr, 'lr', command, 0);
    if (v.continue) {
      if (!['dit', 'tarflow', 'dit-pixels'].includes(stage)) throw new UsageError(`--continue applies to dit, tarflow and dit-pixels, not '${stage}'`, command);
      options.continueTraining = true;
    }
    if (typeof v['curve-per-class'] === 'string') {
      if (stage !== 'dit' && stage !== 'dit-pixels') throw new UsageError(`--curve-per-class applies to dit and dit-pixels (their sample-quality curves), not '${stage}'`, command);
      options.curvePerClass = parseInteger(v['curve-per-class'] as string, 'curve-per-class', command, 1, 1000);
    }
    for (const k of ['data', 'recipe', 'encoder', 'lpips'] as const) {
      if (typeof v[k] !== 'string') continue;
      if (!v[k]) throw new UsageError(`--${k} expects a value`, command);
      options[k] = v[k] as string;
    }
    if (v.restart) options.restart = true;
    if (typeof v['step-scale'] === 'string') {
      options.stepScale = parseNumber(v['step-scale'] as string, 'step-scale', command, 0);
      if (!(options.stepScale > 0)) throw new UsageError('--step-scale must be > 0', command);
      if (!options.recipe) throw new UsageError('--step-scale goes with --recipe', command);
    }
    if (options.data || options.recipe || options.encoder || options.lpips || options.restart) {
      if (stage !== 'all') throw new UsageError(`--data, --recipe, --encoder, --lpips and --restart train a whole pipeline: use \`fae train all\`, not '${stage}'`, command);
      if (!options.recipe) throw new UsageError('--recipe is required with --data (smoke, digits, paper-dinov2-g, paper-siglip2)', command);
      if (!global.models) throw new UsageError('--models <folder> is required with --recipe (the folder the pipeline is trained into)', command);
      if (v.continue || v.resume || options.lr || options.steps) throw new UsageError('--continue, --resume, --steps and --lr are for the digit stages (a recipe run resumes by itself when started again; --step-scale and --batch scale a recipe)', command);
    }
    if (v.resume) {
      if (!['dit', 'tarflow', 'dit-pixels'].includes(stage)) throw new UsageError(`--resume applies to dit, tarflow and dit-pixels, not '${stage}'`, command);
      if (v.continue) throw new UsageError('--resume and --continue exclude each other (--resume goes on with the same run; --continue starts a new run from the saved weights)', command);
      options.resume = true;
    }
  }
  if (positionals.length && command !== 'encode' && command !== 'reconstruct') {
    throw new UsageError(`unexpected argument '${positionals[0]}'`, command);
  }
  if (command === 'demo') options.train = !!v.train;
  if ((command === 'encode' || command === 'reconstruct')) {
    if (typeof v.mnist === 'string') options.mnist = parseInteger(v.mnist, 'mnist', command, 1, 1000);
    if (options.mnist !== undefined && positionals.length) throw new UsageError('give image files or --mnist <n>, not both', command);
    if (options.mnist === undefined && !positionals.length) options.mnist = 16;
  }
  if (command === 'sample') {
    const g = String(v.generator);
    if (!GENERATORS.includes(g as GeneratorName)) throw new UsageError(`--generator must be one of ${GENERATORS.join(', ')}, got '${g}'`, command);
    options.generator = g as GeneratorName;
    if (typeof v.class === 'string' && typeof v.labels === 'string') throw new UsageError('give --class or --labels, not both', command);
    if (typeof v.class === 'string') options.labels = [parseInteger(v.class, 'class', command, 0, 100_000)];
    if (typeof v.labels === 'string') options.labels = parseLabels(v.labels, command);
  }
  if (command === 'eval') {
    if (typeof v.data === 'string') {
      if (!v.data) throw new UsageError('--data expects an image folder, tar shards or mnist', command);
      options.data = v.data;
    }
    if (typeof v.images === 'string') options.images = parseInteger(v.images, 'images', command, 1);
    if (options.images !== undefined && !options.data) throw new UsageError('--images goes with --data', command);
    if (typeof v.generator === 'string') {
      if (!GENERATORS.includes(v.generator as GeneratorName)) throw new UsageError(`--generator must be one of ${GENERATORS.join(', ')}, got '${v.generator}'`, command);
      if (options.data) throw new UsageError('--generator goes without --data (eval --data evaluates every generator of the pipeline)', command);
      options.generator = v.generator as GeneratorName;
    }
  }
  if (command === 'sample' || command === 'eval' || command === 'demo') {
    if (typeof v['per-class'] === 'string') options.perClass = parseInteger(v['per-class'] as string, 'per-class', command, 1, 1000);
    if (typeof v.steps === 'string') options.steps = parseInteger(v.steps, 'steps', command, 1, 1000);
    if (typeof v.cfg === 'string') options.cfg = parseNumber(v.cfg, 'cfg', command, 0);
  }
  return { command, global, positionals, options };
}
