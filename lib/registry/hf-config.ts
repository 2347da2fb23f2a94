// timm / Hugging Face hub `config.json` ({architecture, num_classes, model_args, pretrained_cfg}) -> VitConfig.
// model_args are timm's snake_case constructor kwargs, applied on top of the architecture's entrypoint exactly as
// `timm.create_model(architecture, num_classes=..., **model_args)` does. Extensions (shared/fixtures/README.md):
// `norm_eps`, `qk_scale`, `representation_size` (legacy), `backbone` (hybrid CNN description).
// model_args go through model-args.ts: unknown keys throw VIT_E_UNSUPPORTED naming them; known options of
// families vitnode does not implement yet land in `config.unsupported`, so building such a model fails clearly.
import type { PretrainedCfg } from '../models/config.ts';
import { buildConfig } from './build-config.ts';
import { registryError } from './errors.ts';
import { lookup } from './lookup.ts';
import { num } from './model-args.ts';
import { overridesToModelArgs } from './overrides.ts';
import type { ResolvedModel, ResolveOverrides } from './types.ts';

export interface HfConfig {
  architecture: string;
  num_classes?: number;
  num_features?: number;
  global_pool?: string;
  model_args?: Record<string, unknown>;
  pretrained_cfg?: Partial<PretrainedCfg>;
  label_names?: string[];
  label_descriptions?: Record<string, string>;
}

const TOP_LEVEL = new Set(['architecture', 'num_classes', 'num_features', 'global_pool', 'model_args', 'pretrained_cfg', 'label_names', 'label_descriptions']);

/** timm's PretrainedCfg dataclass defaults: an HF pretrained_cfg replaces the arch's cfg over these. */
const CFG_DEFAULTS: PretrainedCfg = {
  num_classes: 1000, input_size: [3, 224, 224], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225],
  crop_pct: 0.875, crop_mode: 'center', interpolation: 'bicubic', fixed_input_size: false,
};

/** A config.json (object) -> model; `overrides` (createModel's options) apply on top of its model_args. */
export function resolveConfig(hf: HfConfig, options: ResolveOverrides = {}): ResolvedModel {
  if (!hf || typeof hf !== 'object' || typeof hf.architecture !== 'string') {
    throw registryError('VIT_E_ARGUMENT', 'config must be an object with a string `architecture`');
  }
  const extra = Object.keys(hf).filter((k) => !TOP_LEVEL.has(k));
  if (extra.length) throw registryError('VIT_E_UNSUPPORTED', `unknown config keys: ${extra.join(', ')}`, { unsupported: extra });
  const look = lookup(hf.architecture);
  const { pretrained = false, ...overrides } = options;
  const over = overridesToModelArgs(overrides);
  if (hf.model_args !== undefined && (typeof hf.model_args !== 'object' || hf.model_args === null || Array.isArray(hf.model_args))) {
    throw registryError('VIT_E_ARGUMENT', 'model_args must be an object');
  }
  const numClasses = over.num_classes ?? hf.num_classes;
  const args: Record<string, unknown> = {
    ...(hf.global_pool !== undefined ? { global_pool: hf.global_pool } : {}),
    ...(hf.model_args ?? {}),
    ...over,
  };
  if (numClasses !== undefined) args.num_classes = num('num_classes', numClasses);

  // timm: an HF pretrained_cfg replaces the arch's (over the dataclass defaults); num_classes/labels are copied in.
  const cfg: PretrainedCfg = hf.pretrained_cfg
    ? { ...CFG_DEFAULTS, ...structuredClone(hf.pretrained_cfg), architecture: look.name }
    : look.cfg;
  if (numClasses !== undefined) cfg.num_classes = numClasses as number;
  if (hf.label_names) cfg.label_names = [...hf.label_names];
  if (hf.label_descriptions) cfg.label_descriptions = { ...hf.label_descriptions };

  const config = buildConfig({ look, pretrainedCfg: cfg, modelArgs: args, pretrained });
  return { name: look.name, tag: look.tag, config, pretrainedCfg: cfg };
}
