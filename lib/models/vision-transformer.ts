// timm VisionTransformer / VisionTransformerDistilled (vision_transformer.py, deit.py) as a module tree whose
// parameter names are timm's state_dict keys. `era: 'legacy'` follows timm 0.4.5 (pooled forward_features,
// representation layer, scores scaled after q k^T).
import type { GraphBuilder, Sym } from '../graph/builder.ts';
import { Block } from './block.ts';
import type { VitConfig } from './config.ts';
import { HybridEmbed } from './hybrid-embed.ts';
import { LayerNorm, Linear, type Param } from './layers.ts';
import { PatchEmbed } from './patch-embed.ts';

export const POOL_MODE = { token: 0, avg: 1, max: 2, avgmax: 3 } as const;

export interface IntermediatesSpec {
  /** Absolute block indices. */
  indices: number[];
  norm: boolean;
  outputFmt: 'NCHW' | 'NLC';
}

export class VisionTransformer {
  readonly patchEmbed: PatchEmbed | HybridEmbed;
  readonly blocks: Block[];
  readonly norm: LayerNorm | null;
  readonly fcNorm: LayerNorm | null;
  readonly preLogits: Linear | null;
  readonly head: Linear | null;
  readonly headDist: Linear | null;
  readonly numPrefixTokens: number;
  readonly embedDim: number;

  constructor(readonly cfg: VitConfig) {
    const D = cfg.embedDim;
    this.embedDim = D;
    this.patchEmbed = cfg.backbone
      ? new HybridEmbed(cfg.backbone, cfg.era, cfg.imgSize, cfg.patchSize, cfg.inChans, D, cfg.dynamicImgPad)
      : new PatchEmbed(cfg.imgSize, cfg.patchSize, cfg.inChans, D, cfg.dynamicImgPad);
    this.numPrefixTokens = (cfg.classToken ? 1 : 0) + (cfg.distilled ? 1 : 0);
    const headDim = D / cfg.numHeads;
    const legacy = cfg.era === 'legacy';
    this.blocks = Array.from(
      { length: cfg.depth },
      (_, i) =>
        new Block(`blocks.${i}`, {
          dim: D,
          numHeads: cfg.numHeads,
          mlpRatio: cfg.mlpRatio,
          qkvBias: cfg.qkvBias,
          scale: cfg.qkScale ?? headDim ** -0.5,
          scaleQ: !legacy,
          eps: cfg.normEps,
          layerScale: cfg.initValues !== null,
          actLayer: cfg.actLayer,
        }),
    );
    const useFcNorm = cfg.fcNorm ?? ['avg', 'avgmax', 'max'].includes(cfg.globalPool);
    this.norm = useFcNorm ? null : new LayerNorm('norm', D, cfg.normEps);
    this.fcNorm = useFcNorm ? new LayerNorm('fc_norm', D, cfg.normEps) : null;
    this.preLogits = cfg.representationSize ? new Linear('pre_logits.fc', D, cfg.representationSize) : null;
    const nf = this.numFeatures;
    this.head = cfg.numClasses > 0 ? new Linear('head', nf, cfg.numClasses) : null;
    this.headDist = cfg.distilled && cfg.numClasses > 0 ? new Linear('head_dist', D, cfg.numClasses) : null;
  }

  /** Input pixels per token (timm feature_info reduction): the patch size, or backbone stride x patch size. */
  get reduction(): number {
    return this.patchEmbed instanceof HybridEmbed ? this.patchEmbed.reduction : this.cfg.patchSize;
  }

  get numFeatures(): number {
    return this.cfg.representationSize ?? this.embedDim;
  }

  get posEmbedTokens(): number {
    const [gh, gw] = this.patchEmbed.gridSize;
    return gh * gw + (this.cfg.noEmbedClass ? 0 : this.numPrefixTokens);
  }

  /** timm state_dict keys and shapes, in timm's order. */
  params(): Param[] {
    const D = this.embedDim;
    const p: Param[] = [];
    if (this.cfg.classToken) p.push(['cls_token', [1, 1, D]]);
    p.push(['pos_embed', [1, this.posEmbedTokens, D]]);
    if (this.cfg.distilled) p.push(['dist_token', [1, 1, D]]);
    p.push(...this.patchEmbed.params());
    for (const b of this.blocks) p.push(...b.params());
    if (this.norm) p.push(...this.norm.params());
    if (this.fcNorm) p.push(...this.fcNorm.params());
    if (this.preLogits) p.push(...this.preLogits.params());
    if (this.head) p.push(...this.head.params());
    if (this.headDist) p.push(...this.headDist.params());
    return p;
  }

  /** Patch embed + prefix tokens + position embedding (resampled per call with dynamic_img_size). */
  buildEmbed(g: GraphBuilder, x: Sym): Sym {
    const cfg = this.cfg;
    const [b, , h, w] = x.shape;
    const D = this.embedDim;
    let t = this.patchEmbed.build(g, x);
    const [gh, gw] = this.patchEmbed.dynamicFeatSize(h, w);
    let pos = g.weight('pos_embed', [1, this.posEmbedTokens, D]);
    const [bh, bw] = this.patchEmbed.gridSize;
    if (cfg.dynamicImgSize && (gh !== bh || gw !== bw)) {
      const prefix = cfg.noEmbedClass ? 0 : this.numPrefixTokens;
      pos = g.op('pos_resample', 'pos_embed', [pos], [1, prefix + gh * gw, D], {
        attrs: { prefix, old_h: bh, old_w: bw, h: gh, w: gw, mode: 1 },
      });
    }
    const prefixTokens: Sym[] = [];
    if (cfg.classToken) prefixTokens.push(g.weight('cls_token', [1, 1, D]));
    if (cfg.distilled) prefixTokens.push(g.weight('dist_token', [1, 1, D]));
    const concat = (s: Sym) =>
      prefixTokens.length
        ? g.op('concat_prefix', 'prefix', [s, ...prefixTokens], [b, s.shape[1] + prefixTokens.length, D])
        : s;
    if (cfg.noEmbedClass) {
      t = g.op('add', 'pos_embed', [t, pos], t.shape);
      return concat(t);
    }
    t = concat(t);
    return g.op('add', 'pos_embed', [t, pos], t.shape);
  }

  /**
   * Tokens the head reads when it pools only prefix tokens (class token; distilled: class + distillation),
   * else null. A forward that needs nothing else may compute only these rows in the last block.
   */
  get headTokens(): number | null {
    if (this.cfg.distilled) return 2;
    return this.cfg.globalPool === 'token' && this.cfg.classToken ? 1 : null;
  }

  /**
   * The whole trunk. Returns the normed token sequence [B, T, D] (timm forward_features) and the requested
   * intermediates (prefix tokens removed; optionally normed; NCHW or NLC). With `keepTokens`, the last block
   * computes only the first `keepTokens` tokens and features is [B, keepTokens, D] (see Block.build).
   */
  buildFeatures(
    g: GraphBuilder,
    x: Sym,
    inter?: IntermediatesSpec,
    keepTokens?: number,
  ): { features: Sym; intermediates: Sym[] } {
    const [, , h, w] = x.shape;
    const [gh, gw] = this.patchEmbed.dynamicFeatSize(h, w);
    let t = this.buildEmbed(g, x);
    const taken = new Map<number, Sym>();
    const want = new Set(inter?.indices ?? []);
    const last = this.blocks.length - 1;
    this.blocks.forEach((blk, i) => {
      t = blk.build(g, t, i === last && !want.has(i) ? keepTokens : undefined);
      if (want.has(i)) taken.set(i, t);
    });
    const features = this.norm ? this.norm.build(g, t) : t;
    const intermediates = (inter?.indices ?? []).map((i) => {
      let s = taken.get(i)!;
      if (inter!.norm && this.norm) s = this.norm.build(g, s);
      const [b, T, D] = s.shape;
      const n = T - this.numPrefixTokens;
      if (this.numPrefixTokens) s = g.op('slice_tokens', `blocks.${i}`, [s], [b, n, D], { attrs: { start: this.numPrefixTokens, count: n } });
      if (inter!.outputFmt === 'NCHW') s = g.op('tokens_to_nchw', `blocks.${i}`, [s], [b, D, gh, gw], { attrs: { h: gh, w: gw } });
      return s;
    });
    return { features, intermediates };
  }

  /** timm forward_head: pool -> fc_norm -> (legacy representation) -> head. Returns pre-logits and logits. */
  buildHead(g: GraphBuilder, features: Sym): { preLogits: Sym; logits: Sym } {
    const [b, , D] = features.shape;
    const cfg = this.cfg;
    const pool = (mode: keyof typeof POOL_MODE, index = 0) =>
      g.op('pool', 'pool', [features], [b, D], {
        attrs: { mode: POOL_MODE[mode], start: this.numPrefixTokens, index },
      });
    if (cfg.distilled) {
      const cls = pool('token', 0);
      const dist = pool('token', 1);
      const preLogits = g.op('add', 'pre_logits', [cls, dist], [b, D], { attrs: { alpha: 0.5, beta: 0.5 } });
      if (!this.head || !this.headDist) return { preLogits, logits: preLogits };
      const a = this.head.build(g, cls);
      const d = this.headDist.build(g, dist);
      return { preLogits, logits: g.op('add', 'head', [a, d], a.shape, { attrs: { alpha: 0.5, beta: 0.5 } }) };
    }
    if (cfg.globalPool === '') {
      // No pooling: the head applies to every token.
      return { preLogits: features, logits: this.head ? this.head.build(g, features) : features };
    }
    let x = pool(cfg.globalPool);
    if (this.fcNorm) x = this.fcNorm.build(g, x);
    if (this.preLogits) x = this.preLogits.build(g, x, { act: 'tanh' });
    return { preLogits: x, logits: this.head ? this.head.build(g, x) : x };
  }
}
