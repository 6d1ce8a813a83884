// Verifying a download that came with neither a size (Content-Length, X-Linked-Size) nor a hash (ETag
// or X-Linked-ETag holding a sha256, or opts.sha256): the file is read back and parsed as its format,
// whose structure pins the length (safetensors offsets tile the data to the last byte, a zip ends with
// its directory, a .npy's shape fixes its size, JSON must close). Unknown formats cannot be verified
// that way, so they are refused rather than cached unverified.
import { ImageDecodeError, decodeImage } from '../image/codecs.js';
import type { ByteSource } from '../io/byte-source.js';
import { readNpy } from '../io/npy.js';
import { openSafetensors } from '../io/safetensors.js';
import { loadTorchCheckpoint } from '../io/torch-checkpoint.js';
import { ZipArchive } from '../io/zip.js';
import { WeightsFormatError } from '../errors.js';

/** How a download was verified before it was cached. */
export type DownloadVerification = 'sha256' | 'size' | 'format';

/** The formats verifyDownloadedFormat can check, by file name. */
export const FORMAT_VERIFIABLE = /\.(safetensors|json|pt|pth|bin|ckpt|npz|npy|png|jpe?g)$/i;

/**
 * Parses the downloaded bytes as the format its name says; throws WeightsFormatError or
 * ImageDecodeError when they are not a whole, valid file of that format. Returns what was checked.
 */
export async function verifyDownloadedFormat(file: string, src: ByteSource): Promise<string> {
  const ext = /\.([a-z]+)$/i.exec(file)?.[1]?.toLowerCase() ?? '';
  switch (ext) {
    case 'safetensors':
      await openSafetensors(src);
      return 'safetensors header and offsets tile the file exactly';
    case 'json': {
      const text = new TextDecoder('utf-8', { fatal: true }).decode(await src.read(0, src.size));
      try {
        JSON.parse(text);
      } catch (e) {
        throw new WeightsFormatError(src.name, `not complete JSON (${(e as Error).message})`, e);
      }
      return 'complete JSON';
    }
    case 'pt': case 'pth': case 'bin': case 'ckpt':
      await loadTorchCheckpoint(src);
      return 'torch.save checkpoint parsed whole (CRC-32 of every entry)';
    case 'npz': {
      const zip = await ZipArchive.open(src);
      for (const n of zip.names()) await zip.read(n);
      return 'zip directory and the CRC-32 of every entry';
    }
    case 'npy':
      readNpy(await src.read(0, src.size), src.name);
      return '.npy header and data size';
    case 'png': case 'jpg': case 'jpeg':
      try {
        decodeImage(await src.read(0, src.size), src.name);
      } catch (e) {
        if (e instanceof ImageDecodeError) throw new WeightsFormatError(src.name, e.message, e);
        throw e;
      }
      return 'image decoded whole';
    default:
      throw new WeightsFormatError(src.name, 'cannot verify this kind of file by its format');
  }
}
