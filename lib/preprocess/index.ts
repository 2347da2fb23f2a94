// Images -> the NCHW float32 batch a model expects, exactly as timm's eval transform builds it from a pretrained cfg:
// decode (decode.ts), resize with PIL's filters (resample.ts), center crop / pad (config.ts), /255, mean/std.
import { availableParallelism } from 'node:os';
import type { PretrainedCfg } from '../models/config.ts';
import { Tensor } from '../tensor.ts';
import { planTransform, resolveDataConfig, type DataConfig, type DataConfigOverrides, type TransformPlan } from './config.ts';
import { decodeImage, describeInput, ImageError, type DecodeOptions, type ImageInput } from './decode.ts';
import { resize, type RawImage } from './resample.ts';
import { parseOptions, preprocessOptionsSchema } from '../options.ts';

export { planTransform, pyRound, resolveDataConfig, type CropMode, type DataConfig, type DataConfigOverrides, type TransformPlan } from './config.ts';
export { decodeImage, DEFAULT_PIXEL_LIMIT, ImageError, toRgb, type DecodeOptions, type ImageErrorReason, type ImageInput, type RawPixels } from './decode.ts';
export { resize, type Interpolation, type RawImage } from './resample.ts';

export interface PreprocessOptions extends DecodeOptions {
  /** Overrides of the resolved data config (timm resolve_data_config `args`). */
  dataConfig?: DataConfigOverrides;
  /** Images decoded / resized at once (default: number of CPUs, at most 16). */
  concurrency?: number;
}

/** Resize, crop / pad, to float, normalise: an 8-bit RGB image -> CHW float32 (timm eval transform after decode). */
export function transformImage(rgb: RawImage, dc: DataConfig, out?: Float32Array): Float32Array {
  const plan = planTransform(rgb.width, rgb.height, dc);
  const img = plan.resize ? resize(rgb, plan.resize[0], plan.resize[1], plan.interpolation) : rgb;
  return toTensor(img, plan, dc, out);
}

function toTensor(img: RawImage, plan: TransformPlan, dc: DataConfig, out?: Float32Array): Float32Array {
  const [, H, W] = dc.inputSize;
  const res = out ?? new Float32Array(3 * H * W);
  const { left, top } = plan.crop;
  const [padL, padT] = plan.pad;
  const f = Math.fround;
  for (let c = 0; c < 3; c++) {
    const mean = f(dc.mean[c]);
    const std = f(dc.std[c]);
    // torch: ToTensor -> float32 x / 255; Normalize -> (x - mean) / std, each step rounded to float32.
    const lut = new Float32Array(256);
    for (let v = 0; v < 256; v++) lut[v] = f(f(f(v / 255) - mean) / std);
    const fillV = lut[plan.fill[c]];
    const plane = c * H * W;
    for (let y = 0; y < H; y++) {
      const sy = y + top - padT;
      const row = plane + y * W;
      if (sy < 0 || sy >= img.height) {
        res.fill(fillV, row, row + W);
        continue;
      }
      for (let x = 0; x < W; x++) {
        const sx = x + left - padL;
        res[row + x] = sx < 0 || sx >= img.width ? fillV : lut[img.data[(sy * img.width + sx) * img.channels + c]];
      }
    }
  }
  return res;
}

/** Data config for a model or a pretrained cfg. */
export function dataConfigOf(source: { pretrainedCfg: Partial<PretrainedCfg> } | Partial<PretrainedCfg>, overrides?: DataConfigOverrides): DataConfig {
  const cfg = 'pretrainedCfg' in source ? source.pretrainedCfg : source;
  return resolveDataConfig(cfg as Partial<PretrainedCfg>, overrides);
}

export type Settled = { ok: true; data: Float32Array } | { ok: false; error: ImageError };

/** Decodes and transforms each image; failures are returned per image (with their batch index), not thrown. */
export async function preprocessSettled(images: readonly ImageInput[], dc: DataConfig, opts: PreprocessOptions = {}): Promise<Settled[]> {
  const results: Settled[] = new Array(images.length);
  const limit = Math.max(1, opts.concurrency ?? Math.min(16, availableParallelism()));
  let next = 0;
  const worker = async () => {
    while (next < images.length) {
      const i = next++;
      try {
        const rgb = await decodeImage(images[i], opts);
        results[i] = { ok: true, data: transformImage(rgb, dc) };
      } catch (err) {
        const e = err instanceof ImageError ? err : new ImageError('corrupt', describeInput(images[i]), (err as Error).message, { cause: err });
        e.index = i;
        results[i] = { ok: false, error: e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, images.length) }, worker));
  return results;
}

/** Stacks CHW images into one NCHW tensor. */
export function stack(items: Float32Array[], dc: DataConfig): Tensor {
  const [C, H, W] = dc.inputSize;
  const per = C * H * W;
  const data = new Float32Array(items.length * per);
  items.forEach((x, i) => data.set(x, i * per));
  return new Tensor(data, [items.length, C, H, W]);
}

/**
 * timm's eval preprocessing of a batch: `images` -> NCHW float32 Tensor for a model (or a pretrained cfg).
 * Rejects with the first image's ImageError (its `index` says which) when any image cannot be used.
 */
export async function preprocess(
  images: ImageInput | readonly ImageInput[],
  source: { pretrainedCfg: Partial<PretrainedCfg> } | Partial<PretrainedCfg>,
  opts: PreprocessOptions = {},
): Promise<Tensor> {
  parseOptions(preprocessOptionsSchema, opts, 'preprocess options');
  const list = Array.isArray(images) ? (images as readonly ImageInput[]) : [images as ImageInput];
  const dc = dataConfigOf(source, opts.dataConfig);
  const settled = await preprocessSettled(list, dc, opts);
  const bad = settled.find((s) => !s.ok);
  if (bad && !bad.ok) throw bad.error;
  return stack(settled.map((s) => (s as { data: Float32Array }).data), dc);
}
