// timm Block (pre-norm): x = x + ls1(attn(norm1(x))); x = x + ls2(mlp(norm2(x))). LayerScale and the
// residual adds are GEMM post-ops of attn.proj and mlp.fc2.
import type { GraphBuilder, Sym } from '../graph/builder.ts';
import { Attention } from './attention.ts';
import { LayerNorm, type Param } from './layers.ts';
import { Mlp } from './mlp.ts';

export interface BlockOptions {
  dim: number;
  numHeads: number;
  mlpRatio: number;
  qkvBias: boolean;
  scale: number;
  scaleQ: boolean;
  eps: number;
  layerScale: boolean;
  actLayer: 'gelu' | 'gelu_tanh';
}

export class Block {
  readonly norm1: LayerNorm;
  readonly attn: Attention;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;
  constructor(
    readonly prefix: string,
    readonly o: BlockOptions,
  ) {
    this.norm1 = new LayerNorm(`${prefix}.norm1`, o.dim, o.eps);
    this.attn = new Attention(`${prefix}.attn`, o.dim, o.numHeads, o.qkvBias, o.scale, o.scaleQ);
    this.norm2 = new LayerNorm(`${prefix}.norm2`, o.dim, o.eps);
    this.mlp = new Mlp(`${prefix}.mlp`, o.dim, Math.floor(o.dim * o.mlpRatio), o.actLayer);
  }

  params(): Param[] {
    const ls = (i: number): Param[] => (this.o.layerScale ? [[`${this.prefix}.ls${i}.gamma`, [this.o.dim]]] : []);
    return [
      ...this.norm1.params(),
      ...this.attn.params(),
      ...ls(1),
      ...this.norm2.params(),
      ...this.mlp.params(),
      ...ls(2),
    ];
  }

  /**
   * With `keepTokens`, the block returns only its first `keepTokens` tokens: keys and values still come from
   * every token, but queries, proj and the MLP run on the kept rows (rows never mix outside attention, so
   * they equal the same rows of the full block).
   */
  build(g: GraphBuilder, x: Sym, keepTokens?: number): Sym {
    const ls = (i: number) => (this.o.layerScale ? `${this.prefix}.ls${i}.gamma` : undefined);
    const [b, t, d] = x.shape;
    const keep = keepTokens !== undefined && keepTokens < t ? keepTokens : undefined;
    const residual = keep
      ? g.op('slice_tokens', this.prefix, [x], [b, keep, d], { attrs: { start: 0, count: keep } })
      : x;
    x = this.attn.build(g, this.norm1.build(g, x), residual, ls(1), keep);
    return this.mlp.build(g, this.norm2.build(g, x), x, ls(2));
  }
}
