// Download progress events, in transformers.js's shape: per file `initiate` -> (`download` ->
// `progress`* ->) `done`, then `ready` for the model; `progress_total` after every progress/done
// with the bytes loaded and the total over every file of the call (known before the first byte).

export interface FileEvent {
  /** The model (hub id, URL or directory). */
  name: string;
  /** File name inside the model. */
  file: string;
}
export interface InitiateEvent extends FileEvent { status: 'initiate' }
export interface DownloadEvent extends FileEvent {
  status: 'download';
  /** Why it is downloaded: not in the cache, or the cached copy failed its integrity check. */
  reason: 'not-cached' | 'corrupt-cache';
}
export interface FileProgressEvent extends FileEvent {
  status: 'progress';
  loaded: number;
  /** Bytes expected (0 when the server did not say). */
  total: number;
  /** 0..100 */
  progress: number;
}
export interface DoneEvent extends FileEvent {
  status: 'done';
  loaded: number;
  total: number;
  progress: number;
  /** Served from the cache or a local directory, without a download. */
  cached: boolean;
}
export interface ReadyEvent {
  status: 'ready';
  name: string;
  files: string[];
}
export interface TotalProgressEvent {
  status: 'progress_total';
  name: string;
  loaded: number;
  total: number;
  progress: number;
  files: Record<string, { loaded: number; total: number }>;
}

export type ProgressInfo = InitiateEvent | DownloadEvent | FileProgressEvent | DoneEvent | ReadyEvent | TotalProgressEvent;
export type ProgressCallback = (info: ProgressInfo) => void;

const pct = (loaded: number, total: number) => (total > 0 ? Math.min(100, (100 * loaded) / total) : 0);

/** Emits the per-file events and keeps the running totals for `progress_total`. */
export class ProgressTracker {
  private readonly files = new Map<string, { loaded: number; total: number }>();
  constructor(readonly name: string, private readonly cb?: ProgressCallback) {}

  /** Announces a file's expected size (before any progress event). */
  plan(file: string, size: number | null): void {
    if (!this.files.has(file)) this.files.set(file, { loaded: 0, total: size ?? 0 });
  }

  private emit(e: ProgressInfo): void {
    this.cb?.(e);
  }

  initiate(file: string): void {
    this.emit({ status: 'initiate', name: this.name, file });
  }

  download(file: string, reason: DownloadEvent['reason']): void {
    this.emit({ status: 'download', name: this.name, file, reason });
  }

  progress(file: string, loaded: number, total: number | null): void {
    const f = this.entry(file, total);
    f.loaded = loaded;
    this.emit({ status: 'progress', name: this.name, file, loaded, total: f.total, progress: pct(loaded, f.total) });
    this.emitTotal();
  }

  done(file: string, size: number, cached: boolean): void {
    const f = this.entry(file, size);
    f.loaded = size;
    f.total = size;
    this.emit({ status: 'done', name: this.name, file, loaded: size, total: size, progress: 100, cached });
    this.emitTotal();
  }

  ready(files: string[]): void {
    this.emit({ status: 'ready', name: this.name, files });
  }

  private entry(file: string, total: number | null): { loaded: number; total: number } {
    let f = this.files.get(file);
    if (!f) this.files.set(file, (f = { loaded: 0, total: total ?? 0 }));
    else if (!f.total && total) f.total = total;
    return f;
  }

  private emitTotal(): void {
    if (!this.cb) return;
    let loaded = 0;
    let total = 0;
    const files: Record<string, { loaded: number; total: number }> = {};
    for (const [k, f] of this.files) {
      loaded += f.loaded;
      total += Math.max(f.total, f.loaded);
      files[k] = { loaded: f.loaded, total: f.total };
    }
    this.emit({ status: 'progress_total', name: this.name, loaded, total, progress: pct(loaded, total), files });
  }
}
