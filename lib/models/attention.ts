// timm Attention (layers/attention.py): packed qkv Linear, multi-head softmax(q k^T * scale) v, optional norm of
// the heads' output (scale_norm), proj Linear.
import type { GraphBuilder, OpAttrs, Sym } from '../graph/builder.ts';
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
  /** Attention scale; timm's default head_dim^-0.5 (the seed's qk_scale overrides it). */
  scale: number;
}

export class Attention {
  readonly qkv: Linear;
  readonly norm: NormModule | null;
  readonly proj: Linear;
  constructor(
    readonly prefix: string,
    readonly a: AttentionArgs,
  ) {
    this.qkv = new Linear(`${prefix}.qkv`, a.dim, a.dim * 3, a.qkvBias);
    this.norm = a.scaleNorm ? makeNorm(a, `${prefix}.norm`, a.dim) : null;
    this.proj = new Linear(`${prefix}.proj`, a.dim, a.dim, a.projBias);
  }

  parameters(): ParamSpec[] {
    return paramsOf(this.qkv, this.norm, this.proj);
  }

  /** proj(attn(x)) [B, Q, D]. With `queries`, only the first `queries` tokens are computed (each over all of x). */
  build(g: GraphBuilder, x: Sym, queries?: number): Sym {
    const qkv = this.qkv.build(g, x); // [B, T, 3D]
    const [b, t, d] = x.shape;
    const q = queries ?? t;
    const attrs: OpAttrs['attention'] = { heads: this.a.numHeads, scale: this.a.scale };
    if (q !== t) attrs.queries = q;
    let a = g.op('attention', this.prefix, [qkv], [b, q, d], { attrs }); // [B, Q, D]
    if (this.norm) a = this.norm.build(g, a);
    return this.proj.build(g, a);
  }
}
