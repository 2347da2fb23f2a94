// The image-level API behind VitModel.classify / embed / features: images in (paths, encoded Buffers, raw pixels),
// timm's eval preprocessing for the model's pretrained cfg, batched forwards, answers out.
import { VitError } from './errors.ts';
import { classifyOptionsSchema, featuresOptionsSchema, imageTaskOptionsSchema, parseOptions } from './options.ts';
import { labelsFor, type ClassLabel } from './labels/index.ts';
import { dataConfigOf, preprocessSettled, stack, type DataConfig, type ImageError, type ImageInput, type PreprocessOptions } from './preprocess/index.ts';
import type { PretrainedCfg } from './models/config.ts';
import { Tensor } from './tensor.ts';

/** What the image tasks need of a model (ImageModel implements it; declared here so the two files do not import
 *  each other). */
export interface ImageModel {
  readonly name: string;
  readonly config: { inChans: number; dynamicImgSize: boolean; imgSize: [number, number] };
  readonly pretrainedCfg: PretrainedCfg;
  readonly numClasses: number;
  readonly numFeatures: number;
  readonly featureIndices: number | number[];
  forward(x: Tensor): Promise<Tensor>;
  run(x: Tensor, req: { outputs: ('logits' | 'features' | 'pre_logits' | 'intermediates')[] }): Promise<Partial<Record<string, Tensor | Tensor[]>>>;
  forwardIntermediates(x: Tensor, opts: { indices?: number | number[]; norm?: boolean; outputFmt?: 'NCHW' | 'NLC'; intermediatesOnly?: boolean }): Promise<Tensor[] | { features: Tensor; intermediates: Tensor[] }>;
  featureInfoFor(outIndices?: number | number[]): FeatureInfo[];
}

export interface ImageTaskOptions extends PreprocessOptions {
  /** Images per forward pass (default 32). */
  batchSize?: number;
}

export interface Prediction {
  index: number;
  label: string;
  /** Softmax probability. */
  score: number;
  /** WordNet id for ImageNet heads. */
  synset?: string;
}

export interface ClassifyOptions extends ImageTaskOptions {
  /** Classes per image, highest score first (default 5). */
  topK?: number;
  /** 'throw' (default): reject with the first bad image's ImageError. 'return': that image's entry is the error. */
  errors?: 'throw' | 'return';
}

export interface FeatureInfo {
  /** Block index. */
  index: number;
  /** timm module name (`blocks.<i>`). */
  module: string;
  /** Channels (embed dim). */
  channels: number;
  /** Stride relative to the input (the patch size). */
  reduction: number;
}

export interface FeaturesOptions extends ImageTaskOptions {
  /** Blocks to take: a count of last blocks, or indices (negative from the end). Default: the model's (last 3). */
  outIndices?: number | number[];
  /** Apply the final norm to each map (timm forward_intermediates norm). Default false. */
  norm?: boolean;
  /** 'NCHW' (default) or 'NLC' (tokens, prefix tokens removed). */
  format?: 'NCHW' | 'NLC';
}

export interface FeaturesResult {
  /** One tensor per taken block, [B, C, H/r, W/r] (NCHW) or [B, HW, C] (NLC). */
  features: Tensor[];
  featureInfo: FeatureInfo[];
}

/** The data config the model is fed with: its pretrained cfg, with the model's own fixed input size. */
export function modelDataConfig(model: ImageModel, opts: PreprocessOptions = {}): DataConfig {
  if (model.config.inChans !== 3) throw new VitError('VIT_E_UNSUPPORTED', `image inputs are RGB; ${model.name} takes ${model.config.inChans} channels (pass tensors to forward)`);
  const dc = dataConfigOf(model, opts.dataConfig);
  if (!model.config.dynamicImgSize && !opts.dataConfig?.inputSize) {
    const [h, w] = model.config.imgSize;
    dc.inputSize = [3, h, w];
  }
  return dc;
}

type Chunk = { indices: number[]; x: Tensor };

/** Preprocesses in batches; errors per image. */
async function* batches(model: ImageModel, images: readonly ImageInput[], opts: ImageTaskOptions, errors: (ImageError | undefined)[]): AsyncGenerator<Chunk> {
  const dc = modelDataConfig(model, opts);
  const bs = opts.batchSize ?? 32;
  if (!Number.isInteger(bs) || bs < 1) throw new VitError('VIT_E_ARGUMENT', `batchSize must be a positive integer, got ${bs}`);
  for (let from = 0; from < images.length; from += bs) {
    const part = images.slice(from, from + bs);
    const settled = await preprocessSettled(part, dc, opts);
    const good: Float32Array[] = [];
    const indices: number[] = [];
    settled.forEach((s, j) => {
      if (s.ok) {
        good.push(s.data);
        indices.push(from + j);
      } else {
        s.error.index = from + j;
        errors[from + j] = s.error;
      }
    });
    if (good.length) yield { indices, x: stack(good, dc) };
  }
}

function asList(images: ImageInput | readonly ImageInput[]): readonly ImageInput[] {
  return Array.isArray(images) ? (images as readonly ImageInput[]) : [images as ImageInput];
}

const labelCache = new WeakMap<ImageModel, { n: number; labels: ClassLabel[] }>();

async function modelLabels(model: ImageModel): Promise<ClassLabel[]> {
  const n = model.numClasses;
  const hit = labelCache.get(model);
  if (hit && hit.n === n) return hit.labels;
  const labels = await labelsFor(model.pretrainedCfg, n);
  labelCache.set(model, { n, labels });
  return labels;
}

/** Top-k of softmax(row), computed in float64. */
export function topK(row: Float32Array, k: number, labels: ClassLabel[]): Prediction[] {
  let max = -Infinity;
  for (const v of row) if (v > max) max = v;
  let sum = 0;
  const p = new Float64Array(row.length);
  for (let i = 0; i < row.length; i++) sum += p[i] = Math.exp(row[i] - max);
  const order = [...p.keys()].sort((a, b) => p[b] - p[a] || a - b).slice(0, k);
  return order.map((i) => {
    const l = labels[i];
    return { index: i, label: l?.label ?? String(i), score: p[i] / sum, ...(l?.synset ? { synset: l.synset } : {}) };
  });
}

export async function classify(model: ImageModel, images: ImageInput | readonly ImageInput[], opts: ClassifyOptions = {}): Promise<(Prediction[] | ImageError)[]> {
  parseOptions(classifyOptionsSchema, opts, 'classify options');
  const list = asList(images);
  if (model.numClasses === 0) throw new VitError('VIT_E_UNSUPPORTED', `${model.name} has no classifier (numClasses 0); use embed()`);
  const k = opts.topK ?? 5;
  if (!Number.isInteger(k) || k < 1) throw new VitError('VIT_E_ARGUMENT', `topK must be a positive integer, got ${k}`);
  const labels = await modelLabels(model);
  const errors: (ImageError | undefined)[] = [];
  const out: (Prediction[] | ImageError)[] = new Array(list.length);
  for await (const { indices, x } of batches(model, list, opts, errors)) {
    if (opts.errors !== 'return' && errors.some(Boolean)) break;
    const logits = await model.forward(x);
    const C = logits.shape[1];
    indices.forEach((idx, j) => {
      out[idx] = topK(logits.data.subarray(j * C, (j + 1) * C), Math.min(k, C), labels);
    });
  }
  const firstError = errors.find(Boolean);
  if (firstError && opts.errors !== 'return') throw firstError;
  errors.forEach((e, i) => e && (out[i] = e));
  return out;
}

/** Pre-logits vectors [N, numFeatures] (timm forward_head(pre_logits=True); legacy: forward_features). */
export async function embed(model: ImageModel, images: ImageInput | readonly ImageInput[], opts: ImageTaskOptions = {}): Promise<Tensor> {
  parseOptions(imageTaskOptionsSchema, opts, 'embed options');
  const list = asList(images);
  const errors: (ImageError | undefined)[] = [];
  const parts: Tensor[] = [];
  for await (const { x } of batches(model, list, opts, errors)) {
    if (errors.some(Boolean)) break;
    parts.push((await model.run(x, { outputs: ['pre_logits'] })).pre_logits as Tensor);
  }
  const firstError = errors.find(Boolean);
  if (firstError) throw firstError;
  return Tensor.concat(parts, [list.length, model.numFeatures]);
}

export async function features(model: ImageModel, images: ImageInput | readonly ImageInput[], opts: FeaturesOptions = {}): Promise<FeaturesResult> {
  parseOptions(featuresOptionsSchema, opts, 'features options');
  const list = asList(images);
  const errors: (ImageError | undefined)[] = [];
  const parts: Tensor[][] = [];
  const outIndices = opts.outIndices ?? model.featureIndices;
  for await (const { x } of batches(model, list, opts, errors)) {
    if (errors.some(Boolean)) break;
    const maps = (await model.forwardIntermediates(x, { indices: outIndices, norm: opts.norm ?? false, outputFmt: opts.format ?? 'NCHW', intermediatesOnly: true })) as Tensor[];
    parts.push(maps);
  }
  const firstError = errors.find(Boolean);
  if (firstError) throw firstError;
  const featureInfo = model.featureInfoFor(outIndices);
  const maps = featureInfo.map((_, m) => Tensor.concat(parts.map((p) => p[m])));
  return { features: maps, featureInfo };
}

