// createModel: registry name or timm/HF config -> module tree -> weights in native memory -> VitModel.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { binding, type DeviceSpec } from './binding.ts';
import { cudaStatus } from './backends.ts';
import { VitError } from './errors.ts';
import { defaultThreads, VitModel } from './model.ts';
import { createModelModule } from './models/index.ts';
import { createOptionsSchema, parseOptions, type CreateModelOptions } from './options.ts';
import { checkSupported, getPretrainedCfg, resolveConfig, resolveModel, type HfConfig, type ResolvedModel } from './registry/index.ts';
import { pickOverrides } from './registry/overrides.ts';
import { HF_HUB_PREFIX, resolvePretrainedSource } from './hub/pretrained.ts';
import { modelOrigin, randomWeightsWarning, type ModelOrigin } from './origin.ts';
import { initParams } from './weights/init.ts';
import { loadCheckpoint, type LoadReport } from './weights/load.ts';

export type ModelSource = string | HfConfig;
export type { ModelOrigin } from './origin.ts';

const WEIGHT_FILE = /\.(safetensors|pth|pt|bin|npz|ckpt|pkl|tar)$/i;
/** A source that names a file or folder rather than a registry name (registry names have no '/'). */
const pathLike = (s: string) => /[/\\]/.test(s) || /^[.~]/.test(s) || /\.json$/i.test(s) || WEIGHT_FILE.test(s);

function isRegistryName(s: string): boolean {
  try {
    getPretrainedCfg(s);
    return true;
  } catch {
    return false;
  }
}

/** Path-like sources that do not exist are VIT_E_IO naming the argument, not unknown model names. */
export function checkSourcePath(source: string, what = 'source'): void {
  if (source.startsWith(HF_HUB_PREFIX) || !pathLike(source)) return;
  if (!existsSync(source)) {
    if (isRegistryName(source)) return; // 'beit3_base_patch16_224.pt' is a name with a tag
    throw new VitError('VIT_E_IO', `no such file or directory: '${source}' (the model ${what}: a registry name, a config.json, a model folder or hf-hub:org/name)`);
  }
  if (WEIGHT_FILE.test(source) && statSync(source).isFile()) {
    throw new VitError('VIT_E_ARGUMENT', `'${source}' is a weights file, not a model: pass it as { checkpoint } with a model name or config.json (CLI: --checkpoint)`);
  }
}

/** Resolves a name, `legacy:` name, config.json path or config object to the model definition (no weights). */
export function resolveSource(source: ModelSource, o: CreateModelOptions = {}): ResolvedModel {
  const overrides = { ...pickOverrides(o), pretrained: Boolean(o.checkpoint || o.pretrained) };
  if (typeof source === 'string') checkSourcePath(source);
  if (typeof source === 'string' && !source.endsWith('.json')) return resolveModel(source, overrides);
  let hf: HfConfig;
  if (typeof source === 'string') {
    try {
      hf = JSON.parse(readFileSync(source, 'utf8')) as HfConfig;
    } catch (err) {
      throw new VitError('VIT_E_IO', `cannot read model config ${source}: ${(err as Error).message}`, { cause: err });
    }
  } else hf = source;
  if (!hf || typeof hf !== 'object' || typeof hf.architecture !== 'string') {
    throw new VitError('VIT_E_ARGUMENT', 'a model config needs an "architecture" string (timm / Hugging Face config.json format)');
  }
  const r = resolveConfig(hf, overrides);
  // a config's pretrained cfg is its own: the architecture's default tag applies only when it has none
  return hf.pretrained_cfg ? { ...r, tag: typeof hf.pretrained_cfg.tag === 'string' ? hf.pretrained_cfg.tag : null } : r;
}

export interface CreatedModel extends VitModel {
  /** What was loaded (`pretrained: false`: random weights). */
  loadReport: LoadReport;
}

/**
 * Builds a model. `source`: a registry name ('vit_base_patch16_224', 'deit_tiny_patch16_224.fb_in1k',
 * 'legacy:vit_small_patch16_224'), a timm / HF config object, a path to a config.json, a Hugging Face repo
 * ('hf-hub:timm/vit_base_patch16_224.augreg2_in21k_ft_in1k[@revision]') or a model folder (config.json + weights);
 * the last two, and a config.json inside a model folder, load their weights unless `pretrained: false`.
 * `pretrained: true` on a name downloads its default tag's weights (HF cache; HF_HUB_OFFLINE, HF_TOKEN, HF_ENDPOINT
 * honoured). `checkpoint` (safetensors, .pth, .bin, .npz) always wins. Without any weights: a seeded random
 * initialisation, with a process warning (VIT_W_RANDOM_WEIGHTS) unless `seed` or `pretrained: false` asks for it.
 */
export async function createModel(source: ModelSource, options: CreateModelOptions = {}): Promise<CreatedModel> {
  const o = parseOptions(createOptionsSchema, options, 'createModel options');
  if (typeof source === 'string') checkSourcePath(source);
  // hf-hub:org/name, model folders, { pretrained: true }: config and weights (downloaded into the HF cache)
  const src = await resolvePretrainedSource(source, options);
  const resolved = resolveSource(src.source, { ...options, checkpoint: src.checkpoint });
  const cfg = resolved.config;
  checkSupported(cfg);
  const device = deviceSpec(o.device, o.dtype, o.tf32);
  const module = createModelModule(cfg);
  const store = new binding.WeightStore();
  const seed = o.seed ?? 0;
  let report: LoadReport;
  try {
    if (src.checkpoint) {
      report = loadCheckpoint(src.checkpoint, module, store, seed);
    } else {
      for (const p of initParams(module.parameters(), seed)) store.set(p.key, p.shape, p.data);
      report = { pretrained: false, loaded: 0, adapted: [], reinitialised: [], dropped: [] };
    }
  } catch (err) {
    store.dispose();
    throw err;
  }
  const model = new VitModel(resolved.name, cfg, resolved.pretrainedCfg, store, device, o.threads ?? defaultThreads(), seed) as CreatedModel;
  model.loadReport = report;
  model.origin = modelOrigin(source, src, resolved, () => resolveModel(resolved.name, { ...pickOverrides(options), pretrained: Boolean(src.checkpoint) }).config, options.pretrained === true);
  if (!src.checkpoint && o.seed === undefined && options.pretrained !== false) randomWeightsWarning(model.label);
  if (o.featuresOnly) {
    try {
      model.setFeaturesOnly(o.outIndices);
    } catch (err) {
      model.dispose();
      throw err;
    }
  }
  return model;
}

function deviceSpec(device: string, dtype: DeviceSpec['dtype'], tf32: boolean): DeviceSpec {
  if (device === 'cpu') {
    if (dtype === 'float16') throw new VitError('VIT_E_UNSUPPORTED', 'dtype float16 is CUDA-only; the CPU backend runs float32 (or opt-in bfloat16 GEMMs)');
    if (tf32) throw new VitError('VIT_E_UNSUPPORTED', 'tf32 is a CUDA option');
    // bfloat16 on CPU: opt-in, GEMMs only (AVX512-BF16; the program build says when the CPU lacks it).
    return dtype === 'bfloat16' ? { device: 'cpu', dtype } : { device: 'cpu' };
  }
  const status = cudaStatus();
  if (!status.available) throw new VitError('VIT_E_CUDA', `CUDA is unavailable: ${status.reason}`);
  const index = device.includes(':') ? Number(device.split(':')[1]) : 0;
  if (index >= status.deviceCount) throw new VitError('VIT_E_CUDA', `cuda:${index} does not exist (${status.deviceCount} device(s))`);
  return { device: 'cuda', index, dtype, tf32 };
}
