// Opening a weights file the user gives: bytes, a local path, an http(s) URL, or a hub location
// `org/name` / `org/name/file` (core's hub functions: cache, progress, offline mode). safetensors files
// are read lazily; PyTorch .pt/.pth (torch.save zip) files go through core's weights-only unpickler,
// and a state dict nested under 'state_dict' / 'model' is found.
import {
  ConfigError, fetchModelFile, loadTorchCheckpoint, openSafetensorsFile, openSafetensorsUrl, parseSafetensors,
  torchStateDictStore, type HubOptions, type TensorStore,
} from '@fae/core';

export interface WeightsSourceOptions extends HubOptions {
  /** Default file name inside a hub repo (when `org/name` is given without a file). */
  defaultFile?: string;
  /** A key the state dict must contain, used to find it inside nested checkpoints. */
  probeKey?: string;
}

const isZip = (b: Uint8Array) => b[0] === 0x50 && b[1] === 0x4b; // 'PK': torch.save zip

async function torchStore(input: Uint8Array | string, source: string, probeKey?: string): Promise<TensorStore> {
  const ckpt = await loadTorchCheckpoint(input);
  if (probeKey && ckpt && typeof ckpt === 'object' && !(probeKey in (ckpt as Record<string, unknown>))) {
    for (const k of ['state_dict', 'model', 'ema', 'module']) {
      const inner = (ckpt as Record<string, unknown>)[k];
      if (inner && typeof inner === 'object' && probeKey in (inner as Record<string, unknown>)) return torchStateDictStore(inner, '', source);
    }
  }
  return torchStateDictStore(ckpt, '', source);
}

/** A TensorStore over the weights at `source` (see the file header). */
export async function openWeights(source: string | Uint8Array, opts: WeightsSourceOptions = {}): Promise<TensorStore> {
  if (source instanceof Uint8Array) return isZip(source) ? torchStore(source, 'weights bytes', opts.probeKey) : parseSafetensors(source, 'weights bytes');
  if (/^https?:\/\//i.test(source)) {
    return /\.safetensors(\?|$)/i.test(source) ? openSafetensorsUrl(source, { fetch: opts.fetch }) : torchStore(source, source, opts.probeKey);
  }
  const { stat } = await import('node:fs/promises');
  const local = await stat(source).then((s) => s.isFile(), () => false);
  if (local) return /\.safetensors$/i.test(source) ? openSafetensorsFile(source) : torchStore(source, source, opts.probeKey);
  const m = /^([\w.-]+\/[\w.-]+)(?:\/(.+))?$/.exec(source);
  if (!m) throw new ConfigError(source, 'is neither a file, an http(s) URL nor a hub location org/name[/file]');
  const file = m[2] ?? opts.defaultFile;
  if (!file) throw new ConfigError(source, 'name the file inside the hub repo: org/name/<file>');
  const resolved = await fetchModelFile(m[1], file, opts);
  if (resolved.path) return /\.safetensors$/i.test(file) ? openSafetensorsFile(resolved.path) : torchStore(resolved.path, resolved.path, opts.probeKey);
  const bytes = await resolved.bytes();
  return isZip(bytes) ? torchStore(bytes, source, opts.probeKey) : parseSafetensors(bytes, source);
}
