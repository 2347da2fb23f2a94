// timm's snake_case model_args (entrypoint kwargs, a config.json's model_args, createModel's overrides) -> config
// fields. One handler per timm argument; layer choices are checked against the factory tables, so a value missing
// there is "not supported yet" without a hand list. Extensions (shared/fixtures/README.md): `norm_eps`,
// `qk_scale`, `representation_size` (legacy), `backbone` (hybrid CNN description).
import type { GlobalPool, VitConfig } from '../models/config.ts';
import { BLOCK_FNS } from '../models/blocks.ts';
import { ACT_LAYERS, ATTN_LAYERS, MLP_LAYERS, NORM_LAYERS } from '../models/factories.ts';
import { EVA_ATTN_TYPES } from '../models/eva-attention.ts';
import { ROPE_TYPES } from '../models/rope.ts';
import { registryError } from './errors.ts';

export type ConfigFields = Partial<VitConfig>;
type Handler = (v: unknown, out: ConfigFields, key: string) => void;

/** Dropout / init kwargs: no effect on an inference graph. */
const NO_OP = new Set(['drop_rate', 'pos_drop_rate', 'patch_drop_rate', 'proj_drop_rate', 'attn_drop_rate', 'drop_path_rate', 'weight_init', 'fix_init']);

function bad(key: string, want: string, v: unknown): never {
  throw registryError('VIT_E_ARGUMENT', `model_args.${key} must be ${want}, got ${JSON.stringify(v)}`);
}
export const num = (key: string, v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : bad(key, 'a number', v));
const bool = (key: string, v: unknown): boolean => (typeof v === 'boolean' ? v : bad(key, 'a boolean', v));

function size(key: string, v: unknown): [number, number] {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number')) return [v[0], v[1]];
  return bad(key, 'a number or [height, width]', v);
}

const set = <K extends keyof VitConfig>(field: K, conv: (key: string, v: unknown) => VitConfig[K]): Handler =>
  (v, out, key) => { out[field] = conv(key, v); };
const unsupported = (out: ConfigFields, label: string) => (out.unsupported ??= []).push(label);

/** A known option whose non-default values vitnode does not implement yet. */
const notYet = (isDefault: (v: unknown) => boolean, label: (v: unknown) => string): Handler =>
  (v, out) => { if (!isDefault(v)) unsupported(out, label(v)); };

/** A layer chosen by name from a factory table; null = timm's default (`dflt`; a null default means no layer). */
const layer = <K extends 'actLayer' | 'normLayer' | 'mlpLayer' | 'attnLayer' | 'blockFn' | 'embedNormLayer'>(field: K, table: object, dflt: string | null): Handler =>
  (v, out, key) => {
    const name = v ?? dflt;
    if (name === null) (out as Record<string, unknown>)[field] = null;
    else if (typeof name === 'string' && Object.hasOwn(table, name)) out[field] = name;
    else unsupported(out, `${key}=${typeof name === 'string' ? name : JSON.stringify(name)}`);
  };

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
    const b = v as Record<string, unknown>;
    if (b.type !== 'resnetv2' && b.type !== 'resnet') unsupported(out, `backbone.type=${String(b.type)}`);
    out.backbone = structuredClone(b);
  },
  global_pool: (v, out, k) => {
    if (typeof v === 'string') out.globalPool = v as GlobalPool;
    else bad(k, 'a string', v);
  },
  reg_tokens: (v, out, k) => { out.regTokens = v == null ? 0 : num(k, v); },
  pre_norm: set('preNorm', bool),
  final_norm: set('finalNorm', bool),
  pos_embed: (v, out, k) => {
    if (v === 'learn') out.posEmbed = 'learn';
    else if (v === 'none' || v === '' || v === null) out.posEmbed = 'none';
    else bad(k, "'learn' or 'none'", v);
  },
  qk_norm: set('qkNorm', bool),
  scale_attn_norm: set('scaleAttnNorm', bool),
  scale_mlp_norm: set('scaleMlpNorm', bool),
  proj_bias: set('projBias', bool),
  pool_include_prefix: set('poolIncludePrefix', bool),
  // HybridEmbed is chosen by `backbone`; other embed layers are not built.
  embed_layer: notYet((v) => v == null || v === 'PatchEmbed' || v === 'HybridEmbed', (v) => `embed_layer=${v}`),
  embed_proj: notYet((v) => v !== false, () => 'embed_proj=false'),
  embed_norm_eps: set('embedNormEps', num),
  mlp_gate_last: set('mlpGateLast', bool),
  // partial(GluMlp, act_layer=...) in an entrypoint: the block passes its own act_layer, which wins (timm).
  mlp_act_layer: () => {},
  embed_norm_layer: layer('embedNormLayer', NORM_LAYERS, null),
  act_layer: layer('actLayer', ACT_LAYERS, 'gelu'),
  norm_layer: layer('normLayer', NORM_LAYERS, 'layernorm'),
  mlp_layer: layer('mlpLayer', MLP_LAYERS, 'Mlp'),
  attn_layer: layer('attnLayer', ATTN_LAYERS, 'Attention'),
  block_fn: layer('blockFn', BLOCK_FNS, 'Block'),
};

const optNum = <K extends 'attnPoolNumHeads' | 'attnPoolMlpRatio'>(field: K): Handler =>
  (v, out, k) => { out[field] = v == null ? null : num(k, v); };
/** A value chosen from a table of built variants (rope_type, attn_type). */
const choice = <K extends 'ropeType' | 'attnType'>(field: K, table: object): Handler =>
  (v, out, key) => {
    if (typeof v === 'string' && Object.hasOwn(table, v)) out[field] = v;
    else unsupported(out, `${key}=${typeof v === 'string' ? v : JSON.stringify(v)} (built: ${Object.keys(table).join(', ')})`);
  };

/** eva.py Eva's arguments: the shared ones as VisionTransformer's, each of its own one config field. */
const EVA_HANDLERS: Record<string, Handler> = {
  ...Object.fromEntries(['img_size', 'patch_size', 'in_chans', 'num_classes', 'global_pool', 'embed_dim', 'depth', 'num_heads',
    'qkv_bias', 'mlp_ratio', 'norm_layer', 'norm_eps', 'init_values', 'class_token', 'no_embed_class', 'dynamic_img_size',
    'dynamic_img_pad'].map((k) => [k, HANDLERS[k]])),
  num_reg_tokens: (v, out, k) => { out.regTokens = v == null ? 0 : num(k, v); },
  use_abs_pos_emb: (v, out, k) => { out.posEmbed = bool(k, v) ? 'learn' : 'none'; },
  use_pre_transformer_norm: set('preNorm', bool),
  use_fc_norm: HANDLERS.fc_norm,
  scale_mlp: set('scaleMlpNorm', bool),
  scale_attn_inner: set('scaleAttnNorm', bool),
  qkv_fused: set('qkvFused', bool),
  swiglu_mlp: set('swigluMlp', bool),
  swiglu_align_to: set('swigluAlignTo', num),
  attn_type: choice('attnType', EVA_ATTN_TYPES),
  use_rot_pos_emb: set('useRotPosEmb', bool),
  rope_type: choice('ropeType', ROPE_TYPES),
  rope_grid_offset: set('ropeGridOffset', num),
  rope_grid_indexing: (v, out, k) => { out.ropeGridIndexing = v === 'ij' || v === 'xy' ? v : bad(k, "'ij' or 'xy'", v); },
  rope_temperature: set('ropeTemperature', num),
  rope_rotate_half: set('ropeRotateHalf', bool),
  use_post_norm: set('usePostNorm', bool),
  use_post_transformer_norm: (v, out, k) => { out.usePostTransformerNorm = v == null ? null : bool(k, v); },
  attn_pool_num_heads: optNum('attnPoolNumHeads'),
  attn_pool_mlp_ratio: optNum('attnPoolMlpRatio'),
  ref_feat_shape: (v, out, k) => { out.refFeatShape = v == null ? null : size(k, v); },
};
const EVA_NO_OP = new Set([...NO_OP, 'head_init_scale']);

/** Each timm model class's argument handlers (and the arguments it accepts without effect on inference). */
const CLASS_ARGS: Record<string, { handlers: Record<string, Handler>; noOp: Set<string> }> = {
  VisionTransformer: { handlers: HANDLERS, noOp: NO_OP },
  VisionTransformerDistilled: { handlers: HANDLERS, noOp: NO_OP },
  Eva: { handlers: EVA_HANDLERS, noOp: EVA_NO_OP },
};

/** snake_case model_args of a timm model class -> config fields; throws on keys it does not know. */
export function mapModelArgs(args: Record<string, unknown>, cls = 'VisionTransformer'): ConfigFields {
  const { handlers, noOp } = CLASS_ARGS[cls] ?? CLASS_ARGS.VisionTransformer;
  const out: ConfigFields = {};
  const unknown = Object.keys(args).filter((k) => !Object.hasOwn(handlers, k) && !noOp.has(k));
  if (unknown.length) {
    throw registryError('VIT_E_UNSUPPORTED', `unknown model_args: ${unknown.join(', ')}`, { unsupported: unknown });
  }
  for (const [k, v] of Object.entries(args)) if (Object.hasOwn(handlers, k)) handlers[k](v, out, k);
  return out;
}
