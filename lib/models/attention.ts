// timm Attention (layers/attention.py): packed qkv Linear, optional per-head q / k norms (qk_norm), multi-head
// softmax(q k^T * scale) v, optional norm of the heads' output (scale_norm), proj Linear.
import type { GraphBuilder, OpAttrs, OpWeights, Sym } from '../graph/builder.ts';
import { Linear } from './layers.ts';
import { makeNorm, type NormChoice, type NormModule } from './norms.ts';
import { paramsOf, type ParamSpec } from './params.ts';

export interface AttentionArgs extends NormChoice {
  dim: number;
  numHeads: number;
  qkvBias: boolean;
  projBias: boolean;
  /** timm scale_norm (the block's scale_attn_norm): a norm between the attention and proj. */
  scaleNorm: boolean;
  /** timm qk_norm: norm_layer(head_dim) on every head of q and of k before the product. */
  qkNorm: boolean;
  /** Attention scale; timm's default head_dim^-0.5 (the seed's qk_scale overrides it). */
  scale: number;
}

/** q_norm / k_norm of one attention: one native head_norm op over the packed qkv rows. */
export class QkNorm {
  readonly q: NormModule;
  readonly k: NormModule;
  constructor(
    readonly prefix: string,
    c: NormChoice,
    readonly heads: number,
    headDim: number,
    readonly eps: number,
  ) {
    this.q = makeNorm(c, `${prefix}.q_norm`, headDim);
    this.k = makeNorm(c, `${prefix}.k_norm`, headDim);
    if (!this.q.headNorm) throw new Error(`qk_norm with norm_layer '${c.normLayer}' is not built`);
  }

  parameters(): ParamSpec[] {
    return paramsOf(this.q, this.k);
  }

  /** qkv [B, T, 3D] (q | k | v, head-major) -> the same with q and k normed per head. */
  build(g: GraphBuilder, qkv: Sym): Sym {
    const { kind, bias } = this.q.headNorm!;
    const weights: OpWeights['head_norm'] = { q_weight: `${this.prefix}.q_norm.weight`, k_weight: `${this.prefix}.k_norm.weight` };
    if (bias) Object.assign(weights, { q_bias: `${this.prefix}.q_norm.bias`, k_bias: `${this.prefix}.k_norm.bias` });
    return g.op('head_norm', `${this.prefix}.qk_norm`, [qkv], qkv.shape, { weights, attrs: { heads: this.heads, eps: this.eps, kind } });
  }
}

export class Attention {
  readonly qkv: Linear;
  readonly qkNorm: QkNorm | null;
  readonly norm: NormModule | null;
  readonly proj: Linear;
  constructor(
    readonly prefix: string,
    readonly a: AttentionArgs,
  ) {
    this.qkv = new Linear(`${prefix}.qkv`, a.dim, a.dim * 3, a.qkvBias);
    this.qkNorm = a.qkNorm ? new QkNorm(prefix, a, a.numHeads, a.dim / a.numHeads, a.normEps) : null;
    this.norm = a.scaleNorm ? makeNorm(a, `${prefix}.norm`, a.dim) : null;
    this.proj = new Linear(`${prefix}.proj`, a.dim, a.dim, a.projBias);
  }

  parameters(): ParamSpec[] {
    return paramsOf(this.qkv, this.qkNorm, this.norm, this.proj);
  }

  /** proj(attn(x)) [B, Q, D]. With `queries`, only the first `queries` tokens are computed (each over all of x). */
  build(g: GraphBuilder, x: Sym, queries?: number): Sym {
    let qkv = this.qkv.build(g, x); // [B, T, 3D]
    if (this.qkNorm) qkv = this.qkNorm.build(g, qkv);
    const [b, t, d] = x.shape;
    const q = queries ?? t;
    const attrs: OpAttrs['attention'] = { heads: this.a.numHeads, scale: this.a.scale };
    if (q !== t) attrs.queries = q;
    let a = g.op('attention', this.prefix, [qkv], [b, q, d], { attrs }); // [B, Q, D]
    if (this.norm) a = this.norm.build(g, a);
    return this.proj.build(g, a);
  }
}
