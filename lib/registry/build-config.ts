// Entrypoint args + pretrained cfg + explicit settings -> a validated VitConfig, with timm's default rules:
//  - modern (timm 1.0.x `_update_default_model_kwargs`): num_classes from the cfg; in_chans from cfg input_size[0];
//    img_size from cfg input_size when the cfg is fixed_input_size (all ViT cfgs are).
//  - legacy (timm 0.4.5 `_create_vision_transformer`): num_classes and img_size from the seed default_cfg; a
//    representation layer that comes from the entrypoint is dropped when num_classes differs from the cfg's
//    ("Removing representation layer for fine-tuning"); an explicit representation size is always kept.
//    Seed hybrids ignore patch_size (their projection is a 1x1 conv).
import { defaultVitConfig, type PretrainedCfg, type VitConfig } from '../models/config.ts';
import { registryError } from './errors.ts';
import type { Lookup } from './lookup.ts';
import { mapModelArgs } from './model-args.ts';
import { MODEL_CLASSES } from '../models/index.ts';
import type { ArchDef } from './entrypoints.ts';
import { classDefaults } from './architectures.generated.ts';

/** Model classes whose constructor defaults differ from VisionTransformer's (defaultVitConfig): timm's own defaults
 *  (the generated classDefaults) through the class's argument handlers. */
const CLASS_BASE: Record<string, () => Partial<VitConfig>> = {
  Eva: () => mapModelArgs(classDefaults.Eva, 'Eva'),
};

export interface BuildInput {
  look: Lookup;
  /** The cfg the model is built with (the arch's, or one from an HF config.json). */
  pretrainedCfg: PretrainedCfg;
  /** model_args the caller set on top of the architecture's (a config.json's, createModel's options). */
  modelArgs: Record<string, unknown>;
  pretrained: boolean;
}

const LEGACY_BASE: Partial<VitConfig> = { era: 'legacy', globalPool: 'token', fcNorm: false, normEps: 1e-6 };

export function buildConfig({ look, pretrainedCfg: cfg, modelArgs, pretrained }: BuildInput): VitConfig {
  // A timm model class vitnode has not built yet (eva.py's Eva): resolvable and listed, never buildable.
  const built = Object.hasOwn(MODEL_CLASSES, look.arch.cls);
  const args = built
    ? mapModelArgs({ ...look.arch.args, ...(pretrained ? look.arch.pretrainedArgs : {}) }, look.arch.cls)
    : { unsupported: [`model class ${look.arch.cls}`] };
  const explicit = built ? mapModelArgs(modelArgs, look.arch.cls) : {};
  const legacy = look.era === 'legacy';
  const c: VitConfig = {
    ...defaultVitConfig,
    ...(legacy ? LEGACY_BASE : {}),
    ...(Object.hasOwn(CLASS_BASE, look.arch.cls) ? CLASS_BASE[look.arch.cls]() : {}),
    ...args,
    modelClass: look.arch.cls,
    load: loadRules(look.arch.load),
    era: look.era,
    unsupported: [...(args.unsupported ?? [])],
  };
  const [ch, h, w] = cfg.input_size ?? [3, ...c.imgSize];
  if (legacy) {
    c.imgSize = [w, w]; // seed: img_size = default_cfg['input_size'][-1]
  } else {
    if (cfg.fixed_input_size) c.imgSize = [h, w];
    c.inChans = ch;
  }
  if (legacy || cfg.num_classes >= 0) c.numClasses = cfg.num_classes;

  for (const [k, v] of Object.entries(explicit)) {
    if (v === undefined || k === 'unsupported') continue;
    (c as unknown as Record<string, unknown>)[k] = v;
  }
  c.unsupported.push(...(explicit.unsupported ?? []));

  if (legacy) {
    if (explicit.representationSize === undefined && args.representationSize && c.numClasses !== look.cfg.num_classes) {
      c.representationSize = null;
    }
    if (c.backbone) c.patchSize = 1;
  }
  validate(c);
  return c;
}

function invalid(msg: string): never {
  throw registryError('VIT_E_ARGUMENT', msg);
}

function posInt(name: string, v: unknown): void {
  if (!Number.isInteger(v) || (v as number) <= 0) invalid(`${name} must be a positive integer, got ${JSON.stringify(v)}`);
}

function validate(c: VitConfig): void {
  for (const k of ['patchSize', 'embedDim', 'depth', 'numHeads', 'inChans'] as const) posInt(k, c[k]);
  if (!Array.isArray(c.imgSize) || c.imgSize.length !== 2) invalid(`imgSize must be a number or [height, width]`);
  c.imgSize.forEach((s) => posInt('imgSize', s));
  if (!Number.isInteger(c.numClasses) || c.numClasses < 0) invalid(`numClasses must be an integer >= 0, got ${c.numClasses}`);
  if (!(c.mlpRatio > 0)) invalid(`mlpRatio must be > 0, got ${c.mlpRatio}`);
  if (!(c.normEps > 0)) invalid(`normEps must be > 0, got ${c.normEps}`);
  if (c.embedDim % c.numHeads) invalid(`embedDim ${c.embedDim} is not divisible by numHeads ${c.numHeads}`);
  if (!['', 'token', 'avg', 'max', 'avgmax', 'map', 'prr'].includes(c.globalPool)) invalid(`globalPool must be '', 'token', 'avg', 'max', 'avgmax', 'map' or 'prr', got '${c.globalPool}'`);
  if (!c.classToken && c.globalPool === 'token') invalid(`globalPool 'token' needs a class token`);
  if (c.modelClass === 'VisionTransformerDistilled' && (c.globalPool !== 'token' || !c.classToken)) invalid(`distilled models only support globalPool 'token'`);
  if (c.modelClass === 'VisionTransformerDistilled' && c.regTokens) invalid('distilled models have no register tokens (timm VisionTransformerDistilled ignores reg_token)');
  if (c.modelClass === 'Eva' && c.globalPool === 'prr') invalid("Eva has no globalPool 'prr' (timm global_pool_nlc)");
  if (c.modelClass === 'Eva' && c.useRotPosEmb && (c.embedDim / c.numHeads) % 4) invalid(`RoPE needs a head_dim divisible by 4, got ${c.embedDim / c.numHeads}`);
  if (!Number.isInteger(c.regTokens) || c.regTokens < 0) invalid(`regTokens must be an integer >= 0, got ${c.regTokens}`);

  const offEra: string[] = [];
  if (c.era === 'legacy') {
    if (c.globalPool !== 'token') offEra.push(`global_pool='${c.globalPool}'`);
    if (c.fcNorm) offEra.push('fc_norm');
    if (c.dynamicImgSize) offEra.push('dynamic_img_size');
    if (c.dynamicImgPad) offEra.push('dynamic_img_pad');
    if (c.initValues) offEra.push('init_values');
    if (c.noEmbedClass) offEra.push('no_embed_class');
    if (!c.classToken) offEra.push('class_token=false');
    // Everything newer than the seed's VisionTransformer: listed against timm's defaults.
    const newer = defaultVitConfig;
    for (const k of ['regTokens', 'posEmbed', 'preNorm', 'finalNorm', 'projBias', 'scaleAttnNorm', 'scaleMlpNorm', 'poolIncludePrefix', 'qkNorm', 'embedNormLayer', 'mlpGateLast', 'normLayer', 'actLayer', 'mlpLayer', 'attnLayer', 'blockFn'] as const) {
      if (c[k] !== newer[k]) offEra.push(`${k}=${JSON.stringify(c[k])}`);
    }
    if (offEra.length) {
      throw registryError('VIT_E_UNSUPPORTED', `timm 0.4.5 (legacy:) models have no ${offEra.join(', ')}; use the modern name`, { unsupported: offEra });
    }
  } else {
    if (c.qkScale !== undefined) offEra.push('qk_scale');
    if (c.representationSize) offEra.push('representation_size');
    if (offEra.length) {
      throw registryError('VIT_E_UNSUPPORTED', `${offEra.join(', ')}: timm 0.4.5 options; use a 'legacy:' architecture`, { unsupported: offEra });
    }
  }
}

/** timm's per-architecture checkpoint filter kwargs that change what loading does. */
function loadRules(load: ArchDef['load']): VitConfig['load'] {
  const f = load?.filter_args ?? {};
  const rules: VitConfig['load'] = { strict: load?.strict ?? true };
  // FlexiViT: resample_abs_pos_embed(interpolation='bilinear', antialias=False)
  if (f.interpolation === 'bilinear' && f.antialias === false) rules.posResample = 'bilinear';
  return rules;
}
