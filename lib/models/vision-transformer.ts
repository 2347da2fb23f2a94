// timm VisionTransformer (vision_transformer.py) as a module tree whose parameter names are timm's state_dict
// keys. `era: 'legacy'` follows timm 0.4.5 (pooled forward_features, representation layer).
import { VitError } from '../errors.ts';
import type { GraphBuilder, Sym } from '../graph/builder.ts';
import { makeBlock } from './blocks.ts';
import type { VitConfig } from './config.ts';
import type { BlockArgs, BlockModule } from './factories.ts';
import { makeNorm, type NormModule } from './norms.ts';
import { AttentionPoolLatent, AttentionPoolPrr } from './attention-pool.ts';
import { ACT_LAYERS } from './factories.ts';
import { HybridEmbed } from './hybrid-embed.ts';
import { Linear } from './layers.ts';
import type { IntermediatesSpec, ModelModule } from './model-module.ts';
import { paramsOf, stateDictOf, type Param, type ParamSpec } from './params.ts';
import { PatchEmbed } from './patch-embed.ts';
import { TokenLayout } from './token-layout.ts';
import { buildTrunk } from './trunk.ts';

export type { IntermediatesSpec } from './model-module.ts';

export const POOL_MODE = { token: 0, avg: 1, max: 2, avgmax: 3 } as const;

/** timm's fc_norm rule: fc_norm=None means on iff the pool averages / maxes tokens; the seed never had one. */
export function usesFcNorm(cfg: Pick<VitConfig, 'era' | 'fcNorm' | 'globalPool'>): boolean {
  if (cfg.era === 'legacy') return false;
  return cfg.fcNorm ?? ['avg', 'avgmax', 'max'].includes(cfg.globalPool);
}

/** The kwargs timm's VisionTransformer passes to every block_fn. */
export function blockArgs(cfg: VitConfig): BlockArgs {
  return {
    dim: cfg.embedDim,
    numHeads: cfg.numHeads,
    mlpRatio: cfg.mlpRatio,
    qkvBias: cfg.qkvBias,
    projBias: cfg.projBias,
    scaleNorm: cfg.scaleAttnNorm,
    scaleMlpNorm: cfg.scaleMlpNorm,
    qkNorm: cfg.qkNorm,
    mlpGateLast: cfg.mlpGateLast,
    scale: cfg.qkScale ?? (cfg.embedDim / cfg.numHeads) ** -0.5,
    normLayer: cfg.normLayer,
    normEps: cfg.normEps,
    initValues: cfg.initValues,
    actLayer: cfg.actLayer,
    mlpLayer: cfg.mlpLayer,
    attnLayer: cfg.attnLayer,
  };
}

/**
 * timm reset_classifier: a new head (none for 0 classes), optionally another pool; the trunk keeps its norm /
 * fc_norm whatever the new pool (timm does not rebuild them).
 */
export function resetClassifierConfig(cfg: VitConfig, numClasses: number, globalPool?: VitConfig['globalPool']): VitConfig {
  if (!Number.isInteger(numClasses) || numClasses < 0) throw new VitError('VIT_E_ARGUMENT', 'numClasses must be an integer >= 0');
  const next = { ...cfg, numClasses, fcNorm: usesFcNorm(cfg) };
  if (globalPool !== undefined) {
    if (cfg.modelClass === 'VisionTransformerDistilled' && globalPool !== 'token') throw new VitError('VIT_E_ARGUMENT', "distilled models only support globalPool 'token'");
    if (globalPool === 'token' && !cfg.classToken) throw new VitError('VIT_E_ARGUMENT', "globalPool 'token' needs a class token");
    // timm: attention pooling cannot be added by reset_classifier; switching away from it drops it.
    if ((globalPool === 'map' || globalPool === 'prr') && globalPool !== cfg.globalPool) throw new VitError('VIT_E_UNSUPPORTED', `cannot switch to globalPool '${globalPool}' in resetClassifier (timm cannot either)`);
    next.globalPool = globalPool;
  }
  return next;
}

export class VisionTransformer implements ModelModule {
  readonly tokens: TokenLayout;
  readonly patchEmbed: PatchEmbed | HybridEmbed;
  readonly normPre: NormModule | null;
  readonly blocks: BlockModule[];
  readonly norm: NormModule | null;
  readonly attnPool: AttentionPoolLatent | AttentionPoolPrr | null;
  readonly fcNorm: NormModule | null;
  readonly preLogits: Linear | null;
  readonly head: Linear | null;
  readonly embedDim: number;

  constructor(
    readonly cfg: VitConfig,
    { distToken = false } = {},
  ) {
    const D = cfg.embedDim;
    this.embedDim = D;
    this.tokens = new TokenLayout(cfg.classToken, cfg.regTokens, distToken, cfg.noEmbedClass, cfg.posEmbed === 'learn');
    // timm: PatchEmbed(bias=not pre_norm), as CLIP's conv1 has no bias.
    this.patchEmbed = cfg.backbone
      ? new HybridEmbed(cfg.backbone, cfg.era, cfg.imgSize, cfg.patchSize, cfg.inChans, D, cfg.dynamicImgPad)
      : new PatchEmbed(cfg.imgSize, cfg.patchSize, cfg.inChans, D, cfg.dynamicImgPad, !cfg.preNorm,
        cfg.embedNormLayer ? { normLayer: cfg.embedNormLayer, normEps: cfg.embedNormEps } : null);
    this.normPre = cfg.preNorm ? makeNorm(cfg, 'norm_pre', D) : null;
    const args = blockArgs(cfg);
    this.blocks = Array.from({ length: cfg.depth }, (_, i) => makeBlock(cfg.blockFn, `blocks.${i}`, args));
    const fc = usesFcNorm(cfg);
    this.norm = cfg.finalNorm && !fc ? makeNorm(cfg, 'norm', D) : null;
    this.attnPool = cfg.globalPool === 'map'
      ? new AttentionPoolLatent('attn_pool', D, cfg.numHeads, cfg.mlpRatio, cfg, ACT_LAYERS[cfg.actLayer])
      : cfg.globalPool === 'prr' ? new AttentionPoolPrr('attn_pool', cfg.numHeads, cfg.classToken ? 'token' : 'avg') : null;
    this.fcNorm = cfg.finalNorm && fc ? makeNorm(cfg, 'fc_norm', D) : null;
    this.preLogits = cfg.representationSize ? new Linear('pre_logits.fc', D, cfg.representationSize) : null;
    this.head = cfg.numClasses > 0 ? new Linear('head', this.numFeatures, cfg.numClasses) : null;
  }

  get depth(): number {
    return this.blocks.length;
  }

  /** Input pixels per token (timm feature_info reduction): the patch size, or backbone stride x patch size. */
  get reduction(): number {
    return this.patchEmbed instanceof HybridEmbed ? this.patchEmbed.reduction : this.cfg.patchSize;
  }

  get numFeatures(): number {
    return this.cfg.representationSize ?? this.embedDim;
  }

  get seqLen(): number {
    const [gh, gw] = this.patchEmbed.gridSize;
    return gh * gw + this.tokens.numPrefixTokens;
  }

  get classifiers(): Linear[] {
    return this.head ? [this.head] : [];
  }

  parameters(): ParamSpec[] {
    return [
      ...this.tokens.parameters(this.embedDim, this.patchEmbed.gridSize),
      ...paramsOf(this.patchEmbed, this.normPre, ...this.blocks, this.norm, this.attnPool, this.fcNorm, this.preLogits, this.head),
    ];
  }

  params(): Param[] {
    return stateDictOf(this.parameters());
  }

  resetClassifierConfig(numClasses: number, globalPool?: VitConfig['globalPool']): VitConfig {
    return resetClassifierConfig(this.cfg, numClasses, globalPool);
  }

  filterKey(key: string): string | null {
    // DeiT-III / older LayerScale checkpoints name the gammas blocks.N.gamma_1 / gamma_2.
    if (this.cfg.initValues !== null) key = key.replace(/\.gamma_([12])$/, '.ls$1.gamma');
    // Seed in21k representation layers, where this model has none (timm drops them).
    if (key.startsWith('pre_logits.') && !this.preLogits) return null;
    return key;
  }

  /** Patch embed + prefix tokens + position embedding (resampled per call with dynamic_img_size). */
  buildEmbed(g: GraphBuilder, x: Sym): Sym {
    const [, , h, w] = x.shape;
    const grid = this.patchEmbed.dynamicFeatSize(h, w);
    return this.tokens.embed(g, this.patchEmbed.build(g, x), this.patchEmbed.gridSize, grid, this.cfg.dynamicImgSize);
  }

  /**
   * Tokens the head reads when it pools only prefix tokens (the class token), else null. A forward that needs
   * nothing else may compute only these rows in the last block.
   */
  get headTokens(): number | null {
    return this.cfg.globalPool === 'token' && this.cfg.classToken ? 1 : null;
  }

  /**
   * The whole trunk. Returns the normed token sequence [B, T, D] (timm forward_features) and the requested
   * intermediates (prefix tokens removed; optionally normed; NCHW or NLC). With `keepTokens`, the last block
   * computes only the first `keepTokens` tokens and features is [B, keepTokens, D] (see Block.build).
   */
  buildFeatures(g: GraphBuilder, x: Sym, inter?: IntermediatesSpec, keepTokens?: number): { features: Sym; intermediates: Sym[] } {
    const [, , h, w] = x.shape;
    const grid = this.patchEmbed.dynamicFeatSize(h, w);
    let t = this.buildEmbed(g, x);
    if (this.normPre) t = this.normPre.build(g, t);
    const trunk = {
      depth: this.blocks.length,
      block: (gb: GraphBuilder, i: number, y: Sym, keep?: number) => this.blocks[i].build(gb, y, keep),
      norm: this.norm,
      numPrefixTokens: this.tokens.numPrefixTokens,
    };
    return buildTrunk(g, trunk, t, grid, inter, keepTokens);
  }

  /** timm VisionTransformer.pool: features [B, T, D] -> [B, D]. */
  protected poolTokens(g: GraphBuilder, features: Sym): Sym {
    const pool = this.cfg.globalPool;
    if (pool === 'map' || pool === 'prr') {
      // prr always pools over every token (timm forces pool_include_prefix)
      const np = this.tokens.numPrefixTokens;
      const [b, t, d] = features.shape;
      const drop = pool === 'map' && !this.cfg.poolIncludePrefix && np > 0;
      const x = drop ? g.op('slice_tokens', 'attn_pool.tokens', [features], [b, t - np, d], { attrs: { start: np, count: t - np } }) : features;
      return this.attnPool!.build(g, x);
    }
    return this.pool(g, features, pool as keyof typeof POOL_MODE);
  }

  /** Pools features [B, T, D] -> [B, D] (mode over the patch tokens, or the prefix token at `index`). */
  protected pool(g: GraphBuilder, features: Sym, mode: keyof typeof POOL_MODE, index = 0): Sym {
    const [b, , D] = features.shape;
    return g.op('pool', 'pool', [features], [b, D], {
      attrs: { mode: POOL_MODE[mode], start: this.cfg.poolIncludePrefix ? 0 : this.tokens.numPrefixTokens, index },
    });
  }

  /** timm forward_head: pool -> fc_norm -> (legacy representation) -> head. Returns pre-logits and logits. */
  buildHead(g: GraphBuilder, features: Sym): { preLogits: Sym; logits: Sym } {
    const pool = this.cfg.globalPool;
    // No pooling (''): fc_norm and the head apply to every token.
    let x = pool === '' ? features : this.poolTokens(g, features);
    if (this.fcNorm) x = this.fcNorm.build(g, x);
    if (this.preLogits) x = this.preLogits.build(g, x, 'tanh');
    return { preLogits: x, logits: this.head ? this.head.build(g, x) : x };
  }
}
