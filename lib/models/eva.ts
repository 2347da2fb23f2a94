// timm eva.py Eva (EVA, EVA-02, EVA-CLIP, Perception Encoder, RoPE-ViT, SBB, DINOv3, LingBot) as a module tree whose
// parameter names are timm's state_dict keys. RoPE tables are derived per grid (rope.ts); the blocks, attentions
// and MLPs are eva-block.ts / eva-attention.ts; the original-layout checkpoints convert in eva-checkpoint.ts.
import { VitError } from '../errors.ts';
import type { GraphBuilder, Sym } from '../graph/builder.ts';
import { AttentionPoolLatent } from './attention-pool.ts';
import type { VitConfig } from './config.ts';
import { convertEvaCheckpoint } from './eva-checkpoint.ts';
import { EVA_BLOCKS, type EvaBlockArgs, type EvaBlockModule } from './eva-block.ts';
import { Linear } from './layers.ts';
import type { CheckpointConverter, IntermediatesSpec, ModelModule } from './model-module.ts';
import { makeNorm, type NormModule } from './norms.ts';
import { paramsOf, stateDictOf, type Param, type ParamSpec } from './params.ts';
import { PatchEmbed } from './patch-embed.ts';
import { makeRope, type Grid, type RopeModule, type RopeTable } from './rope.ts';
import { TokenLayout } from './token-layout.ts';
import { buildTrunk } from './trunk.ts';
import { POOL_MODE } from './vision-transformer.ts';

/** timm Eva: fc_norm = use_fc_norm if not None else global_pool == 'avg'. */
export const evaUsesFcNorm = (cfg: VitConfig) => cfg.fcNorm ?? cfg.globalPool === 'avg';

export class Eva implements ModelModule {
  readonly tokens: TokenLayout;
  readonly patchEmbed: PatchEmbed;
  readonly rope: RopeModule | null;
  readonly normPre: NormModule | null;
  readonly blocks: EvaBlockModule[];
  readonly norm: NormModule | null;
  readonly attnPool: AttentionPoolLatent | null;
  readonly fcNorm: NormModule | null;
  readonly head: Linear | null;
  readonly embedDim: number;

  constructor(readonly cfg: VitConfig) {
    const D = cfg.embedDim;
    this.embedDim = D;
    this.tokens = new TokenLayout(cfg.classToken, cfg.regTokens, false, cfg.noEmbedClass, cfg.posEmbed === 'learn');
    // timm: PatchEmbed(bias=not use_pre_transformer_norm)
    this.patchEmbed = new PatchEmbed(cfg.imgSize, cfg.patchSize, cfg.inChans, D, cfg.dynamicImgPad, !cfg.preNorm);
    const headDim = D / cfg.numHeads;
    this.rope = cfg.useRotPosEmb
      ? makeRope(cfg.ropeType, {
        headDim, numHeads: cfg.numHeads, depth: cfg.depth, temperature: cfg.ropeTemperature, gridOffset: cfg.ropeGridOffset,
        gridIndexing: cfg.ropeGridIndexing, refFeatShape: cfg.refFeatShape,
      })
      : null;
    this.normPre = cfg.preNorm ? makeNorm(cfg, 'norm_pre', D) : null;
    const args: EvaBlockArgs = {
      dim: D, numHeads: cfg.numHeads, qkvBias: cfg.qkvBias, qkvFused: cfg.qkvFused, scaleNorm: cfg.scaleAttnNorm,
      normLayer: cfg.normLayer, normEps: cfg.normEps, attnType: cfg.attnType, mlpRatio: cfg.mlpRatio, swigluMlp: cfg.swigluMlp,
      swigluAlignTo: cfg.swigluAlignTo, scaleMlp: cfg.scaleMlpNorm, initValues: cfg.initValues,
    };
    const blockFn = EVA_BLOCKS[cfg.usePostNorm ? 'EvaBlockPostNorm' : 'EvaBlock'];
    this.blocks = Array.from({ length: cfg.depth }, (_, i) => blockFn(`blocks.${i}`, args));
    const fc = evaUsesFcNorm(cfg);
    this.norm = (cfg.usePostTransformerNorm ?? !fc) ? makeNorm(cfg, 'norm', D) : null;
    this.attnPool = cfg.globalPool === 'map'
      ? new AttentionPoolLatent('attn_pool', D, cfg.attnPoolNumHeads || cfg.numHeads, cfg.attnPoolMlpRatio || cfg.mlpRatio, cfg, 'gelu')
      : null;
    this.fcNorm = fc ? makeNorm(cfg, 'fc_norm', D) : null;
    this.head = cfg.numClasses > 0 ? new Linear('head', D, cfg.numClasses) : null;
  }

  get depth(): number {
    return this.blocks.length;
  }
  get reduction(): number {
    return this.cfg.patchSize;
  }
  get numFeatures(): number {
    return this.embedDim;
  }
  get seqLen(): number {
    const [gh, gw] = this.patchEmbed.gridSize;
    return gh * gw + this.tokens.numPrefixTokens;
  }
  get classifiers(): Linear[] {
    return this.head ? [this.head] : [];
  }
  get headTokens(): number | null {
    return this.cfg.globalPool === 'token' && this.cfg.classToken ? 1 : null;
  }

  parameters(): ParamSpec[] {
    return [
      ...this.tokens.parameters(this.embedDim, this.patchEmbed.gridSize),
      ...paramsOf(this.patchEmbed, this.rope, this.normPre, ...this.blocks, this.norm, this.attnPool, this.fcNorm, this.head),
    ];
  }

  params(): Param[] {
    return stateDictOf(this.parameters());
  }

  /**
   * timm Eva.reset_classifier: a new head, optionally another global_pool; norm and fc_norm stay as built. The
   * attention pool stays too (timm's pool() uses it whatever global_pool says), so 'map' cannot be switched.
   */
  resetClassifierConfig(numClasses: number, globalPool?: VitConfig['globalPool']): VitConfig {
    if (!Number.isInteger(numClasses) || numClasses < 0) throw new VitError('VIT_E_ARGUMENT', 'numClasses must be an integer >= 0');
    const next: VitConfig = { ...this.cfg, numClasses, fcNorm: this.fcNorm !== null, usePostTransformerNorm: this.norm !== null };
    if (globalPool !== undefined && globalPool !== this.cfg.globalPool) {
      if (globalPool === 'map' || this.cfg.globalPool === 'map' || globalPool === 'prr') {
        throw new VitError('VIT_E_UNSUPPORTED', `cannot switch Eva's globalPool from '${this.cfg.globalPool}' to '${globalPool}' in resetClassifier (timm keeps or lacks the attention pool)`);
      }
      if (globalPool === 'token' && !this.cfg.classToken) throw new VitError('VIT_E_ARGUMENT', "globalPool 'token' needs a class token");
      next.globalPool = globalPool;
    }
    return next;
  }

  /** timm eva.py checkpoint_filter_fn, per key (rope buffers dropped; EVA / EVA-CLIP renames). The whole-dict
   *  conversions (PE, DINOv3, prefixes) are `convertCheckpoint`. */
  filterKey(key: string): string | null {
    return key;
  }

  readonly convertCheckpoint: CheckpointConverter = (sd) => convertEvaCheckpoint(sd, this);

  /** Patch embed + prefix tokens + position embedding (resampled per call with dynamic_img_size). */
  private buildEmbed(g: GraphBuilder, x: Sym, grid: Grid): Sym {
    return this.tokens.embed(g, this.patchEmbed.build(g, x), this.patchEmbed.gridSize, grid, this.cfg.dynamicImgSize);
  }

  buildFeatures(g: GraphBuilder, x: Sym, inter?: IntermediatesSpec, keepTokens?: number): { features: Sym; intermediates: Sym[] } {
    const [, , h, w] = x.shape;
    const grid = this.patchEmbed.dynamicFeatSize(h, w);
    let t = this.buildEmbed(g, x, grid);
    if (this.normPre) t = this.normPre.build(g, t);
    const np = this.tokens.numPrefixTokens;
    const half = this.cfg.ropeRotateHalf;
    const rope = (i: number): RopeTable | null => (this.rope ? this.rope.table(g, grid, i, np, half) : null);
    const trunk = {
      depth: this.blocks.length,
      block: (gb: GraphBuilder, i: number, y: Sym, keep?: number) => this.blocks[i].build(gb, y, rope(i), keep),
      norm: this.norm,
      numPrefixTokens: np,
    };
    return buildTrunk(g, trunk, t, grid, inter, keepTokens);
  }

  /** timm Eva.forward_head: pool (attn_pool over every token, or global_pool_nlc) -> fc_norm -> head. */
  buildHead(g: GraphBuilder, features: Sym): { preLogits: Sym; logits: Sym } {
    const pool = this.cfg.globalPool;
    let x: Sym;
    if (this.attnPool) x = this.attnPool.build(g, features);
    else if (pool === '') x = features;
    else {
      const [b, , D] = features.shape;
      x = g.op('pool', 'pool', [features], [b, D], {
        attrs: { mode: POOL_MODE[pool as keyof typeof POOL_MODE], start: this.tokens.numPrefixTokens, index: 0 },
      });
    }
    if (this.fcNorm) x = this.fcNorm.build(g, x);
    return { preLogits: x, logits: this.head ? this.head.build(g, x) : x };
  }
}
