// vitnode classify | embed | features | preprocess: images (paths or globs) in, answers out. Per-file errors are
// reported (stderr, or a JSON line with --json) and the run goes on; the exit code is 1 when any file failed.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { checkSourcePath, createModel, type CreatedModel } from '../create-model.ts';
import type { CreateModelOptions } from '../options.ts';
import { VitError } from '../errors.ts';
import { modelDataConfig, topK } from '../image-api.ts';
import { labelsFor } from '../labels/index.ts';
import type { PretrainedCfg } from '../models/config.ts';
import { preprocessSettled, resolveDataConfig, stack, type DataConfig, type ImageError } from '../preprocess/index.ts';
import { pcaRgb, writePcaImage, type PcaImage } from '../pca.ts';
import { Tensor } from '../tensor.ts';
import { writeSafetensors } from '../weights/safetensors.ts';
import { FOLDER_WEIGHTS } from '../weights/checkpoint.ts';
import { deviceOptions, intOpt, parse, usage } from './args.ts';

const imageOptions = {
  model: { type: 'string' },
  json: { type: 'boolean', default: false },
  'batch-size': { type: 'string' },
  ...deviceOptions,
} as const;

/** `--model`: a registry name, a config.json, a directory (config.json + model.safetensors), or hf-hub:org/repo. */
export function resolveModelArg(spec: string, checkpoint?: string, weightsOptional = false): { source: string; checkpoint?: string; hub?: string } {
  let dir: string | undefined;
  if (spec.startsWith('hf-hub:')) {
    const repo = spec.slice('hf-hub:'.length).split('@')[0];
    dir = hubSnapshot(repo);
    if (!dir) {
      const [org, name] = repo.split('/');
      if (org === 'timm' && name && (checkpoint || weightsOptional)) return { source: name, checkpoint };
      throw new VitError('VIT_E_IO', `${spec} is not in the Hugging Face cache (${hubCache()}); vitnode does not download: run \`huggingface-cli download ${repo}\`, or pass --checkpoint with a timm name`);
    }
  } else if (existsSync(spec) && statSync(spec).isDirectory()) dir = spec;
  else checkSourcePath(spec, '--model');
  if (dir) {
    const config = join(dir, 'config.json');
    if (!existsSync(config)) throw new VitError('VIT_E_IO', `${dir} has no config.json`);
    const weights = FOLDER_WEIGHTS.map((f) => join(dir, f)).find((f) => existsSync(f));
    // a local folder goes to createModel as is (its origin is the folder); a hub snapshot as its config
    return { source: spec.startsWith('hf-hub:') ? config : dir, checkpoint: checkpoint ?? weights, ...(spec.startsWith('hf-hub:') ? { hub: spec } : {}) };
  }
  return { source: spec, checkpoint };
}

function hubCache(): string {
  return process.env.HF_HUB_CACHE ?? join(process.env.HF_HOME ?? join(homedir(), '.cache', 'huggingface'), 'hub');
}

function hubSnapshot(repo: string): string | undefined {
  const base = join(hubCache(), `models--${repo.replace('/', '--')}`);
  let ref = 'main';
  try {
    ref = readFileSync(join(base, 'refs', 'main'), 'utf8').trim();
  } catch {
    /* no refs: take any snapshot */
  }
  const snaps = join(base, 'snapshots');
  if (!existsSync(snaps)) return undefined;
  const pick = existsSync(join(snaps, ref)) ? ref : readdirSync(snaps)[0];
  return pick ? join(snaps, pick) : undefined;
}

/** Expands shell-style globs (*, ?, **) that the shell left unexpanded; plain paths pass through. */
export function expandGlobs(args: string[]): string[] {
  const out: string[] = [];
  for (const a of args) {
    if (!/[*?[]/.test(a)) {
      out.push(a);
      continue;
    }
    const parts = resolve(a).split('/');
    const firstGlob = parts.findIndex((p) => /[*?[]/.test(p));
    const root = parts.slice(0, firstGlob).join('/') || '/';
    const re = new RegExp(`^${parts.slice(firstGlob).map(globPart).join('/')}$`.replace(/\/\(\?:\.\*\/\)\?\//g, '/(?:.*/)?'));
    const found: string[] = [];
    const walk = (dir: string, rel: string, depth: number) => {
      let entries;
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const r = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) {
          if (depth < 32) walk(join(dir, e.name), r, depth + 1);
        } else if (re.test(r)) found.push(join(root, r));
      }
    };
    walk(root, '', 0);
    if (!found.length) out.push(a); // reported later as not found
    else out.push(...found.sort());
  }
  return out;
}

function globPart(p: string): string {
  if (p === '**') return '(?:.*/)?';
  return p.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
}

class Progress {
  private readonly on: boolean;
  private done = 0;
  private last = 0;
  constructor(private total: number) {
    this.on = Boolean(process.stderr.isTTY) && total >= 20;
  }
  tick(n: number): void {
    this.done += n;
    if (!this.on) return;
    const now = Date.now();
    if (now - this.last < 100 && this.done < this.total) return;
    this.last = now;
    const w = 30;
    const f = Math.round((w * this.done) / this.total);
    process.stderr.write(`\r[${'#'.repeat(f)}${'.'.repeat(w - f)}] ${this.done}/${this.total}`);
  }
  end(): void {
    if (this.on) process.stderr.write('\n');
  }
}

function reportError(file: string, e: ImageError, json: boolean): void {
  if (json) console.log(JSON.stringify({ file, error: { code: e.code, reason: e.reason, message: e.message } }));
  else console.error(`vitnode: ${e.message} [${e.reason}]`);
}

interface Job {
  model: CreatedModel;
  files: string[];
  json: boolean;
  failed: number;
}

async function openModel(values: { model?: string; checkpoint?: string; device: string; dtype: string; threads?: string }, extra: { featuresOnly?: boolean; outIndices?: number[] } = {}): Promise<CreatedModel> {
  if (!values.model) usage('--model <name|config.json|dir|hf-hub:org/repo> is required');
  return createFromArg(values.model, { checkpoint: values.checkpoint, device: values.device, dtype: values.dtype as 'float32', threads: intOpt(values.threads, 'threads'), ...extra });
}

/** createModel for a CLI model argument (name, config.json, folder, hf-hub: from the local cache). Without weights
 *  createModel warns (VIT_W_RANDOM_WEIGHTS) once the model resolved. */
export async function createFromArg(spec: string, options: CreateModelOptions): Promise<CreatedModel> {
  const { source, checkpoint, hub } = resolveModelArg(spec, options.checkpoint);
  const model = await createModel(source, { ...options, checkpoint });
  if (hub && model.origin) model.origin = { ...model.origin, kind: 'hf-hub', ref: hub };
  return model;
}

/** Runs `fn` on batches of successfully preprocessed files; `fn` returns one output callback per file, and
 *  results and failures are reported in input order. */
async function eachBatch(job: Job, dc: DataConfig, batchSize: number, fn: (files: string[], x: Tensor) => Promise<(() => void)[] | void>): Promise<void> {
  const progress = new Progress(job.files.length);
  try {
    for (let from = 0; from < job.files.length; from += batchSize) {
      const part = job.files.slice(from, from + batchSize);
      const settled = await preprocessSettled(part, dc);
      const good: Float32Array[] = [];
      const names: string[] = [];
      settled.forEach((s, j) => {
        if (s.ok) {
          good.push(s.data);
          names.push(part[j]);
        }
      });
      const emit = good.length ? ((await fn(names, stack(good, dc))) ?? []) : [];
      let g = 0;
      settled.forEach((s, j) => {
        if (s.ok) emit[g++]?.();
        else {
          job.failed++;
          reportError(part[j], s.error, job.json);
        }
      });
      progress.tick(part.length);
    }
  } finally {
    progress.end();
  }
}

function finish(job: Job, what: string): void {
  if (job.failed) {
    process.exitCode = 1;
    console.error(`vitnode ${what}: ${job.failed} of ${job.files.length} image(s) failed`);
  }
}

export async function classifyCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, { ...imageOptions, 'top-k': { type: 'string' } }, true);
  if (!positionals.length) usage('classify needs one or more images (paths or globs)');
  const k = intOpt(values['top-k'], 'top-k', 5)!;
  const model = await openModel(values);
  try {
    const job: Job = { model, files: expandGlobs(positionals), json: values.json, failed: 0 };
    const labels = await labelsFor(model.pretrainedCfg, model.numClasses);
    await eachBatch(job, modelDataConfig(model), intOpt(values['batch-size'], 'batch-size', 32)!, async (files, x) => {
      const logits = await model.forward(x);
      const C = logits.shape[1];
      return files.map((file, j) => () => {
        const preds = topK(logits.data.subarray(j * C, (j + 1) * C), Math.min(k, C), labels);
        if (job.json) console.log(JSON.stringify({ file, predictions: preds }));
        else console.log(`${file}: ${preds.map((p) => `${p.label} (${(100 * p.score).toFixed(1)}%)`).join(', ')}`);
      });
    });
    finish(job, 'classify');
  } finally {
    model.dispose();
  }
}

export async function embedCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, { ...imageOptions, output: { type: 'string' } }, true);
  if (!positionals.length) usage('embed needs one or more images (paths or globs)');
  if (!values.output && !values.json) usage('embed needs --output emb.safetensors or --json');
  const model = await openModel(values);
  try {
    const job: Job = { model, files: expandGlobs(positionals), json: values.json, failed: 0 };
    const rows: Tensor[] = [];
    const done: string[] = [];
    await eachBatch(job, modelDataConfig(model), intOpt(values['batch-size'], 'batch-size', 32)!, async (files, x) => {
      const e = (await model.run(x, { outputs: ['pre_logits'] })).pre_logits as Tensor;
      rows.push(e);
      done.push(...files);
      return files.map((file, j) => () => {
        if (job.json && !values.output) console.log(JSON.stringify({ file, embedding: Array.from(e.at(j).data) }));
      });
    });
    if (values.output) {
      writeSafetensors(values.output, [['embeddings', Tensor.concat(rows, [0, model.numFeatures])]], { model: model.name, files: JSON.stringify(done), producer: 'vitnode' });
      console.error(`vitnode embed: ${model.label}: ${done.length} x ${model.numFeatures} embeddings (tensor 'embeddings', file list in metadata) -> ${values.output}`);
    }
    finish(job, 'embed');
  } finally {
    model.dispose();
  }
}

export async function featuresCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(
    argv,
    {
      ...imageOptions,
      output: { type: 'string' },
      'out-indices': { type: 'string' },
      norm: { type: 'boolean', default: false },
      format: { type: 'string', default: 'NCHW' },
      pca: { type: 'string' },
      'pca-scale': { type: 'string' },
    },
    true,
  );
  if (!positionals.length) usage('features needs one or more images (paths or globs)');
  if (!values.output && !values.pca) usage('features needs --output feats.safetensors and/or --pca out.png');
  if (values.format !== 'NCHW' && values.format !== 'NLC') usage(`--format must be NCHW or NLC, got '${values.format}'`);
  if (values.pca && values.format !== 'NCHW') usage('--pca needs --format NCHW (patch maps)');
  const pcaScale = intOpt(values['pca-scale'], 'pca-scale', 1)!;
  if (pcaScale < 1 || pcaScale > 64) usage(`--pca-scale must be 1..64, got ${pcaScale}`);
  let outIndices: number[] | undefined;
  if (values['out-indices'] !== undefined) {
    outIndices = values['out-indices'].split(',').map((s) => Number(s.trim()));
    if (outIndices.some((n) => !Number.isInteger(n))) usage(`--out-indices must be comma-separated block indices, got '${values['out-indices']}'`);
  }
  const model = await openModel(values, { featuresOnly: true, outIndices });
  try {
    const job: Job = { model, files: expandGlobs(positionals), json: values.json, failed: 0 };
    const info = model.featureInfoFor(model.featureIndices);
    const maps: Tensor[][] = info.map(() => []);
    const done: string[] = [];
    const pcas: PcaImage[] = [];
    await eachBatch(job, modelDataConfig(model), intOpt(values['batch-size'], 'batch-size', 32)!, async (files, x) => {
      const r = (await model.forwardIntermediates(x, { indices: model.featureIndices, norm: values.norm, outputFmt: values.format as 'NCHW', intermediatesOnly: true })) as Tensor[];
      if (values.output) r.forEach((t, i) => maps[i].push(t));
      // the picture: PCA of the last taken block's patch map
      if (values.pca) pcas.push(...pcaRgb(r[r.length - 1]));
      done.push(...files);
    });
    if (values.output) {
      const tensors: [string, Tensor][] = info.map((fi, i) => [`features.${i}`, Tensor.concat(maps[i], [0])]);
      writeSafetensors(values.output, tensors, { model: model.name, files: JSON.stringify(done), feature_info: JSON.stringify(info), format: values.format, producer: 'vitnode' });
      console.error(`vitnode features: ${model.label}: ${done.length} image(s), ${info.map((fi, i) => `features.${i} = ${fi.module} [${tensors[i][1].shape.join(', ')}]`).join(', ')} -> ${values.output}`);
    }
    if (values.pca) {
      const last = info[info.length - 1];
      for (let i = 0; i < done.length; i++) {
        const path = done.length === 1 ? values.pca : pcaPath(values.pca, i);
        const size = await writePcaImage(path, done[i], pcas[i], { scale: pcaScale });
        console.error(`vitnode features: ${done[i]}: PCA of ${last.module} patch features (${pcas[i].width}x${pcas[i].height}) beside the image -> ${path} (${size.width}x${size.height})`);
      }
    }
    finish(job, 'features');
  } finally {
    model.dispose();
  }
}

/** out.png -> out-<i>.png (several images). */
export function pcaPath(path: string, i: number): string {
  const m = /^(.*?)(\.[^./]*)?$/.exec(path)!;
  return `${m[1]}-${i}${m[2] ?? '.png'}`;
}

export async function preprocessCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, { model: { type: 'string' }, 'pretrained-cfg': { type: 'string' }, output: { type: 'string' }, 'no-auto-orient': { type: 'boolean', default: false } }, true);
  if (!positionals.length || !values.output) usage('preprocess needs (--model <...> | --pretrained-cfg cfg.json) <image...> --output x.safetensors');
  if (Boolean(values.model) === Boolean(values['pretrained-cfg'])) usage('preprocess needs exactly one of --model and --pretrained-cfg');
  let dc: DataConfig;
  let what: string;
  if (values.model) {
    const { resolveSource } = await import('../create-model.ts');
    const { source } = resolveModelArg(values.model, undefined, true);
    const r = resolveSource(existsSync(source) && statSync(source).isDirectory() ? join(source, 'config.json') : source);
    dc = resolveDataConfig(r.pretrainedCfg);
    if (!r.config.dynamicImgSize) dc.inputSize = [3, r.config.imgSize[0], r.config.imgSize[1]];
    what = r.name;
  } else {
    let cfg: Partial<PretrainedCfg>;
    try {
      cfg = JSON.parse(readFileSync(values['pretrained-cfg']!, 'utf8'));
    } catch (err) {
      throw new VitError('VIT_E_IO', `cannot read ${values['pretrained-cfg']}: ${(err as Error).message}`, { cause: err });
    }
    // a whole HF config.json works too
    if (cfg && typeof cfg === 'object' && 'pretrained_cfg' in cfg) cfg = cfg.pretrained_cfg as Partial<PretrainedCfg>;
    dc = resolveDataConfig(cfg);
    what = values['pretrained-cfg']!;
  }
  const files = expandGlobs(positionals);
  const settled = await preprocessSettled(files, dc, { autoOrient: !values['no-auto-orient'] });
  const good = settled.flatMap((s, i) => (s.ok ? [s.data] : (reportError(files[i], s.error, false), [])));
  if (!good.length) throw new VitError('VIT_E_IMAGE', 'no image could be read');
  const x = stack(good, dc);
  writeSafetensors(values.output, [['input', x]], { data_config: JSON.stringify(dc), files: JSON.stringify(files.filter((_, i) => settled[i].ok)), producer: 'vitnode' });
  console.error(`vitnode preprocess: ${what}: ${dc.interpolation}, crop ${dc.cropMode} ${dc.cropPct}, mean ${dc.mean.join('/')}, std ${dc.std.join('/')} -> input [${x.shape.join(', ')}] in ${values.output}`);
  if (good.length < files.length) process.exitCode = 1;
}

