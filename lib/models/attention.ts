// timm Attention: packed qkv Linear, multi-head softmax(q k^T * scale) v, proj Linear (+ residual fused).
import type { GraphBuilder, OpAttrs, Sym } from '../graph/builder.ts';
import { Linear, type Param } from './layers.ts';

export class Attention {
  readonly qkv: Linear;
  readonly proj: Linear;
  constructor(
    readonly prefix: string,
    readonly dim: number,
    readonly numHeads: number,
    qkvBias: boolean,
    /** Seed qk_scale override; default head_dim^-0.5. */
    readonly scale: number,
    /** Modern timm multiplies q before q k^T; the seed scaled the scores after: the same product up to one
     *  rounding, so both build the same graph (the native op scales the scores). */
    readonly scaleQ: boolean,
  ) {
    this.qkv = new Linear(`${prefix}.qkv`, dim, dim * 3, qkvBias);
    this.proj = new Linear(`${prefix}.proj`, dim, dim);
  }

  params(): Param[] {
    return [...this.qkv.params(), ...this.proj.params()];
  }

  /**
   * Returns residual + gamma * proj(attn(x)). With `queries`, only the first `queries` tokens are computed
   * (each still attends over all of x); residual must then be those tokens.
   */
  build(g: GraphBuilder, x: Sym, residual: Sym, gamma?: string, queries?: number): Sym {
    const qkv = this.qkv.build(g, x); // [B, T, 3D]
    const [b, t, d] = x.shape;
    const q = queries ?? t;
    const attrs: OpAttrs['attention'] = { heads: this.numHeads, scale: this.scale };
    if (q !== t) attrs.queries = q;
    const a = g.op('attention', this.prefix, [qkv], [b, q, d], { attrs }); // [B, Q, D]
    return this.proj.build(g, a, { residual, gamma });
  }
}
