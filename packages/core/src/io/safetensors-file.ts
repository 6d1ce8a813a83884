// safetensors on disk (Node) and over HTTP: open a file or URL reading the header first and each
// tensor's bytes only when asked for, and write a file atomically (temp file + rename), streaming one
// tensor at a time.
import { openUrlSource, type UrlSourceOptions } from './byte-source.js';
import { openFileSource, writeFileAtomic } from './file-source.js';
import { openSafetensors, planSafetensors, safetensorsChunks, type SafetensorsSourceStore, type TensorToWrite } from './safetensors.js';

/**
 * Opens a local safetensors file (Node): reads the 8-byte length and the header now, then each tensor
 * with a positioned read at its offset when `read(key)` is called. Never reads the whole file.
 * Call `close()` when done.
 */
export async function openSafetensorsFile(path: string): Promise<SafetensorsSourceStore> {
  const src = await openFileSource(path);
  try {
    return await openSafetensors(src);
  } catch (e) {
    await src.close();
    throw e;
  }
}

/**
 * Opens a safetensors file over HTTP(S) with Range requests: the first request fetches the start of the
 * file (the header), each `read(key)` fetches that tensor's byte range. Works in browsers and Node.
 */
export async function openSafetensorsUrl(url: string, opts: UrlSourceOptions = {}): Promise<SafetensorsSourceStore> {
  return openSafetensors(await openUrlSource(url, opts));
}

/**
 * Writes tensors as a safetensors file that PyTorch's `safetensors.torch.load_file` reads, atomically:
 * the bytes go to a temp file beside `path` that is renamed over it only once complete. Tensors are
 * encoded one at a time. Returns the number of bytes written.
 */
export async function writeSafetensorsFile(path: string, tensors: Record<string, TensorToWrite> | Map<string, TensorToWrite>, metadata?: Record<string, string>): Promise<number> {
  const layout = planSafetensors(tensors, metadata, path);
  return writeFileAtomic(path, safetensorsChunks(layout));
}
