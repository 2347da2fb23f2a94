// timm Block (pre-norm): x = x + ls1(attn(norm1(x))); x = x + ls2(mlp(norm2(x))). Written as timm writes it;
// the residual adds and LayerScale become post-ops of attn.proj and mlp.fc2 in the graph builder's fusion pass.
import type { GraphBuilder, Sym } from '../graph/builder.ts';
import { makeAttention, makeMlp, type AttentionModule, type BlockArgs, type BlockModule, type MlpModule } from './factories.ts';
import { LayerScale } from './layers.ts';
import { makeNorm, type NormModule } from './norms.ts';
import { paramsOf, type ParamSpec } from './params.ts';

/** The first `keep` tokens of x (the rows a pruned last block computes), or x itself. */
export function keptRows(g: GraphBuilder, name: string, x: Sym, keep: number | undefined): Sym {
  const [b, , d] = x.shape;
  return keep ? g.op('slice_tokens', name, [x], [b, keep, d], { attrs: { start: 0, count: keep } }) : x;
}

/** `keepTokens` when it drops rows, else undefined. */
export const pruneTo = (x: Sym, keepTokens?: number) => (keepTokens !== undefined && keepTokens < x.shape[1] ? keepTokens : undefined);

export const layerScale = (a: BlockArgs, prefix: string) => (a.initValues !== null ? new LayerScale(prefix, a.dim, a.initValues) : null);
export const applyLs = (g: GraphBuilder, m: LayerScale | null, y: Sym) => (m ? m.build(g, y) : y);

export class Block implements BlockModule {
  readonly norm1: NormModule;
  readonly attn: AttentionModule;
  readonly ls1: LayerScale | null;
  readonly norm2: NormModule;
  readonly mlp: MlpModule;
  readonly ls2: LayerScale | null;
  constructor(
    readonly prefix: string,
    a: BlockArgs,
  ) {
    this.norm1 = makeNorm(a, `${prefix}.norm1`, a.dim);
    this.attn = makeAttention(a, `${prefix}.attn`);
    this.ls1 = layerScale(a, `${prefix}.ls1`);
    this.norm2 = makeNorm(a, `${prefix}.norm2`, a.dim);
    this.mlp = makeMlp(a, `${prefix}.mlp`);
    this.ls2 = layerScale(a, `${prefix}.ls2`);
  }

  parameters(): ParamSpec[] {
    return paramsOf(this.norm1, this.attn, this.ls1, this.norm2, this.mlp, this.ls2);
  }

  /**
   * With `keepTokens`, the block returns only its first `keepTokens` tokens: keys and values still come from
   * every token, but queries, proj and the MLP run on the kept rows (rows never mix outside attention, so
   * they equal the same rows of the full block).
   */
  build(g: GraphBuilder, x: Sym, keepTokens?: number): Sym {
    const keep = pruneTo(x, keepTokens);
    const shortcut = keptRows(g, this.prefix, x, keep);
    x = g.add(`${this.prefix}.add1`, shortcut, applyLs(g, this.ls1, this.attn.build(g, this.norm1.build(g, x), keep)));
    return g.add(`${this.prefix}.add2`, x, applyLs(g, this.ls2, this.mlp.build(g, this.norm2.build(g, x))));
  }
}
