// timm / Hugging Face hub `config.json` ({architecture, num_classes, model_args, pretrained_cfg}) -> VitConfig.
// model_args are timm's snake_case constructor kwargs, applied on top of the architecture's entrypoint exactly as
// `timm.create_model(architecture, num_classes=..., **model_args)` does. Extensions (shared/fixtures/README.md):
// `norm_eps`, `qk_scale`, `representation_size` (legacy), `backbone` (hybrid CNN description).
// Unknown keys throw VIT_E_UNSUPPORTED naming them; known options of families vitnode does not implement yet
// (reg_tokens, pre_norm, map pooling, ...) land in `config.unsupported`, so building such a model fails clearly.
import type { GlobalPool, PretrainedCfg, VitConfig } from '../models/config.ts';
import { buildConfig } from './build-config.ts';
import { registryError } from './errors.ts';
import { lookup } from './lookup.ts';
import type { ResolvedModel } from './types.ts';

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

/** Dropout / init kwargs: no effect on an inference graph. */
const NO_OP = new Set(['drop_rate', 'pos_drop_rate', 'patch_drop_rate', 'proj_drop_rate', 'attn_drop_rate', 'drop_path_rate', 'weight_init', 'fix_init']);

type Out = Partial<VitConfig>;
type Handler = (v: unknown, out: Out, key: string) => void;

function bad(key: string, want: string, v: unknown): never {
  throw registryError('VIT_E_ARGUMENT', `model_args.${key} must be ${want}, got ${JSON.stringify(v)}`);
}
const num = (key: string, v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : bad(key, 'a number', v));
const bool = (key: string, v: unknown): boolean => (typeof v === 'boolean' ? v : bad(key, 'a boolean', v));

function size(key: string, v: unknown): [number, number] {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number')) return [v[0], v[1]];
  return bad(key, 'a number or [height, width]', v);
}

const set = <K extends keyof VitConfig>(field: K, conv: (key: string, v: unknown) => VitConfig[K]): Handler =>
  (v, out, key) => { out[field] = conv(key, v); };

/** A known option whose non-default values vitnode does not implement yet. */
const notYet = (isDefault: (v: unknown) => boolean, label: (v: unknown) => string): Handler =>
  (v, out) => { if (!isDefault(v)) (out.unsupported ??= []).push(label(v)); };

const HANDLERS: Record<string, Handler> = {
  img_size: set('imgSize', size),
  patch_size: set('patchSize', num),
  in_chans: set('inChans', num),
  num_classes: set('numClasses', num),
  embed_dim: set('embedDim', num),
  depth: set('depth', num),
  num_heads: set('numHeads', num),
  mlp_ratio: set('mlpRatio', num),
  qkv_bias: set('qkvBias', bool),
  class_token: set('classToken', bool),
  no_embed_class: set('noEmbedClass', bool),
  dynamic_img_size: set('dynamicImgSize', bool),
  dynamic_img_pad: set('dynamicImgPad', bool),
  norm_eps: set('normEps', num),
  fc_norm: (v, out, k) => { out.fcNorm = v === null ? null : bool(k, v); },
  init_values: (v, out, k) => { out.initValues = v === null ? null : num(k, v); },
  qk_scale: (v, out, k) => { if (v !== null) out.qkScale = num(k, v); },
  representation_size: (v, out, k) => { out.representationSize = v === null ? null : num(k, v); },
  backbone: (v, out, k) => {
    if (!v || typeof v !== 'object' || Array.isArray(v)) bad(k, 'an object', v);
    out.backbone = structuredClone(v as Record<string, unknown>);
  },
  global_pool: (v, out, k) => {
    if (v === 'map' || v === 'prr') {
      out.globalPool = '';
      (out.unsupported ??= []).push(`global_pool=${v}`);
    } else if (typeof v === 'string') out.globalPool = v as GlobalPool;
    else bad(k, 'a string', v);
  },
  reg_tokens: notYet((v) => v === 0 || v == null, (v) => `reg_tokens=${v}`),
  pre_norm: notYet((v) => v === false, () => 'pre_norm'),
  final_norm: notYet((v) => v === true, () => 'final_norm=false'),
  pos_embed: notYet((v) => v === 'learn', (v) => `pos_embed=${v}`),
  qk_norm: notYet((v) => v === false, () => 'qk_norm'),
  scale_attn_norm: notYet((v) => v === false, () => 'scale_attn_norm'),
  scale_mlp_norm: notYet((v) => v === false, () => 'scale_mlp_norm'),
  proj_bias: notYet((v) => v === true, () => 'proj_bias=false'),
  pool_include_prefix: notYet((v) => v === false, () => 'pool_include_prefix'),
  act_layer: (v, out) => {
    if (v == null || v === 'gelu') out.actLayer = 'gelu';
    else if (v === 'gelu_tanh') out.actLayer = 'gelu_tanh';
    else (out.unsupported ??= []).push(`act_layer=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  },
  norm_layer: notYet((v) => v == null || v === 'layernorm', (v) => `norm_layer=${v}`),
  mlp_layer: notYet((v) => v == null, (v) => `mlp_layer=${v}`),
  block_fn: notYet((v) => v == null, (v) => `block_fn=${v}`),
  attn_layer: notYet((v) => v == null, (v) => `attn_layer=${v}`),
  embed_layer: notYet((v) => v == null, (v) => `embed_layer=${v}`),
};

/** snake_case model_args -> explicit VitConfig fields; throws on keys it does not know. */
export function mapModelArgs(args: Record<string, unknown>): Out {
  const out: Out = {};
  const unknown = Object.keys(args).filter((k) => !Object.hasOwn(HANDLERS, k) && !NO_OP.has(k));
  if (unknown.length) {
    throw registryError('VIT_E_UNSUPPORTED', `unknown model_args: ${unknown.join(', ')}`, { unsupported: unknown });
  }
  for (const [k, v] of Object.entries(args)) if (Object.hasOwn(HANDLERS, k)) HANDLERS[k](v, out, k);
  return out;
}

export function resolveConfig(hf: HfConfig, options: { pretrained?: boolean } = {}): ResolvedModel {
  if (!hf || typeof hf !== 'object' || typeof hf.architecture !== 'string') {
    throw registryError('VIT_E_ARGUMENT', 'config must be an object with a string `architecture`');
  }
  const extra = Object.keys(hf).filter((k) => !TOP_LEVEL.has(k));
  if (extra.length) throw registryError('VIT_E_UNSUPPORTED', `unknown config keys: ${extra.join(', ')}`, { unsupported: extra });
  const look = lookup(hf.architecture);
  const args = { ...(hf.global_pool !== undefined ? { global_pool: hf.global_pool } : {}), ...(hf.model_args ?? {}) };
  const explicit = mapModelArgs(args);
  if (hf.num_classes !== undefined) explicit.numClasses = num('num_classes', hf.num_classes);

  // timm: an HF pretrained_cfg replaces the arch's (over the dataclass defaults); num_classes/labels are copied in.
  const cfg: PretrainedCfg = hf.pretrained_cfg
    ? { ...CFG_DEFAULTS, ...structuredClone(hf.pretrained_cfg), architecture: look.name }
    : look.cfg;
  if (hf.num_classes !== undefined) cfg.num_classes = hf.num_classes;
  if (hf.label_names) cfg.label_names = [...hf.label_names];
  if (hf.label_descriptions) cfg.label_descriptions = { ...hf.label_descriptions };

  const config = buildConfig({ look, pretrainedCfg: cfg, explicit, pretrained: options.pretrained ?? false });
  return { name: look.name, tag: look.tag, config, pretrainedCfg: cfg };
}
