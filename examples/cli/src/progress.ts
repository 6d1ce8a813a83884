// A tiny progress bar on stderr for long work (training, sampling, evaluation). On a terminal it
// redraws one line in place; elsewhere (CI logs, pipes) it prints a plain line every ~10% so logs
// stay readable. No dependencies.

export interface ProgressInfo {
  [key: string]: number | string | undefined;
}

export interface ProgressOptions {
  /** Where to write (default process.stderr). */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Print nothing (e.g. --quiet). */
  silent?: boolean;
}

export class ProgressBar {
  private readonly start = Date.now();
  private lastDraw = 0;
  private lastDecile = -1;
  private current = 0;
  private info: ProgressInfo = {};
  private readonly stream: NonNullable<ProgressOptions['stream']>;
  private readonly tty: boolean;
  private finished = false;
  private drawnAt = -1;

  constructor(readonly label: string, readonly total: number, private readonly opts: ProgressOptions = {}) {
    this.stream = opts.stream ?? process.stderr;
    this.tty = !!this.stream.isTTY;
  }

  /** Sets the position to `done` (absolute, 0..total) with optional figures to show (loss, lr, ...). */
  update(done: number, info: ProgressInfo = {}): void {
    this.current = Math.min(done, this.total);
    this.info = info;
    const now = Date.now();
    const decile = Math.floor((10 * this.current) / Math.max(1, this.total));
    if (this.tty ? now - this.lastDraw > 100 || this.current === this.total : decile > this.lastDecile) {
      this.lastDraw = now;
      this.lastDecile = decile;
      this.draw();
    }
  }

  /** Advances by `n`. */
  tick(n = 1, info: ProgressInfo = {}): void {
    this.update(this.current + n, info);
  }

  /** Draws the final state and ends the line. */
  done(info?: ProgressInfo): void {
    if (this.finished) return;
    if (info) this.info = info;
    const already = this.drawnAt === this.total && !info;
    this.current = this.total;
    if (!already || this.tty) this.draw(true);
    this.finished = true;
  }

  /** The text of the bar (exported for tests). */
  render(width = 24): string {
    const frac = this.total > 0 ? this.current / this.total : 1;
    const filled = Math.round(frac * width);
    const elapsed = (Date.now() - this.start) / 1000;
    const rate = elapsed > 0 ? this.current / elapsed : 0;
    const eta = rate > 0 ? (this.total - this.current) / rate : 0;
    const figures = Object.entries(this.info)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${typeof v === 'number' ? formatNumber(v) : v}`)
      .join(' ');
    return `${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.round(frac * 100)).padStart(3)}% ${this.current}/${this.total}`
      + ` ${formatTime(elapsed)}${this.current < this.total ? ` eta ${formatTime(eta)}` : ''}${rate ? ` ${formatNumber(rate)} it/s` : ''}`
      + (figures ? ` ${figures}` : '');
  }

  private draw(final = false): void {
    if (this.opts.silent) return;
    this.drawnAt = this.current;
    if (this.tty) {
      const cols = this.stream.columns ?? 120;
      this.stream.write(`\r${this.render().slice(0, cols - 1).padEnd(cols - 1)}${final ? '\n' : ''}`);
    } else {
      this.stream.write(`${this.render()}\n`);
    }
  }
}

export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(a >= 1 ? 2 : 4);
}

export function formatTime(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)}s`;
  const m = Math.floor(seconds / 60);
  return `${m}m${String(Math.round(seconds - 60 * m)).padStart(2, '0')}s`;
}
