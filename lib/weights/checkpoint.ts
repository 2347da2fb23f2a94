// Opens any checkpoint a timm user has as one key -> tensor map, dispatching on the file's content (not its
// name): safetensors, PyTorch zip / legacy / tar pickles (.pth, .pt, .bin, .tar), NumPy .npz (JAX ViT layouts),
// or a Hugging Face model folder (model.safetensors, else pytorch_model.bin).
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { VitError } from '../errors.ts';
import type { ResampleMode } from './adapt.ts';
import { ByteFile, checkpointError } from './byte-file.ts';
import { mapJax } from './jax.ts';
import type { CheckpointTensor } from './checkpoint-tensor.ts';
import { readNpz } from './npz.ts';
import { isTar, readLegacyPth, readTarPth, readZipPth } from './pth.ts';
import { openSafetensors } from './safetensors.ts';
import { isZip, ZipArchive } from './zip.ts';

export type CheckpointFormat = 'safetensors' | 'pth-zip' | 'pth-legacy' | 'pth-tar' | 'npz-jax' | 'npz';

export interface Checkpoint {
  path: string;
  format: CheckpointFormat;
  /** timm state_dict keys (before timm's filter: prefixes such as 'module.' are still there). */
  tensors: Map<string, CheckpointTensor>;
  /** What was not taken as a weight: non-float tensors, extra entries (epoch, args, optimizer), unmapped arrays. */
  skipped: string[];
  /** The pickle container the state dict came from ('model', 'state_dict', 'model_ema', ...). */
  container?: string;
  /** pos_embed interpolation this format's loader uses (timm's .npz path: bilinear, no antialias). */
  posResample?: ResampleMode;
  /** Patch-embedding kernel resampling to the model's patch size (timm's .npz path: bilinear, no antialias). */
  patchResample?: ResampleMode;
  close(): void;
}

/** In a model folder: the weights file timm / huggingface_hub would pick. */
export const FOLDER_WEIGHTS = ['model.safetensors', 'pytorch_model.bin', 'open_clip_pytorch_model.bin'];

export function weightsInFolder(dir: string): string {
  for (const f of FOLDER_WEIGHTS) if (existsSync(join(dir, f))) return join(dir, f);
  throw new VitError('VIT_E_IO', `${dir}: no weights file in the folder (looked for ${FOLDER_WEIGHTS.join(', ')})`);
}

export function openCheckpoint(path: string): Checkpoint {
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch (err) {
    throw new VitError('VIT_E_IO', `cannot open checkpoint ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (isDir) return openCheckpoint(weightsInFolder(path));
  const file = new ByteFile(path);
  try {
    const head = file.readUpTo(0, 512);
    if (isZip(head)) {
      const zip = new ZipArchive(file);
      const names = [...zip.entries.keys()];
      if (names.some((n) => n === 'data.pkl' || n.endsWith('/data.pkl'))) return done(file, readZipPth(file, zip));
      if (names.some((n) => n.endsWith('.npy'))) {
        const arrays = readNpz(file, zip);
        const m = mapJax(file, zip, arrays);
        const jax = m.tensors.has('patch_embed.proj.weight') && !arrays.has('patch_embed.proj.weight');
        const resample = jax ? ({ posResample: 'bilinear', patchResample: 'bilinear' } as const) : {};
        return done(file, { format: jax ? 'npz-jax' : 'npz', ...m, ...resample });
      }
      throw checkpointError(path, 'a zip archive that is neither a PyTorch checkpoint (data.pkl) nor an .npz (.npy arrays)');
    }
    if (isTar(head)) return done(file, readTarPth(file));
    const named = /\.safetensors$/i.test(path);
    const looksSt = head.length >= 9 && head[8] === 0x7b && head.readBigUInt64LE(0) < BigInt(file.size);
    if (!looksSt && !named && head[0] === 0x80) return done(file, readLegacyPth(file));
    // content that is nothing else but a .safetensors name: the safetensors parser says precisely what is wrong
    if (looksSt || named) {
      file.close();
      const st = openSafetensors(path);
      const tensors = new Map<string, CheckpointTensor>();
      for (const e of st.entries.values()) tensors.set(e.name, { shape: e.shape, dtype: e.dtype, read: () => st.read(e.name) });
      return { path, format: 'safetensors', tensors, skipped: [], close: () => st.close() };
    }
    throw checkpointError(path, 'unrecognised checkpoint format (expected safetensors, a PyTorch .pth/.bin, or an .npz)');
  } catch (err) {
    file.close();
    throw err;
  }
}

function done(file: ByteFile, c: Omit<Checkpoint, 'path' | 'close'>): Checkpoint {
  return { path: file.path, ...c, close: () => file.close() };
}
