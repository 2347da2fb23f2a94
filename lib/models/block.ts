// timm Block (pre-norm): x = x + ls1(attn(norm1(x))); x = x + ls2(mlp(norm2(x))). Written as timm writes it;
// the residual adds and LayerScale become post-ops of attn.proj and mlp.fc2 in the graph builder's fusion pass.
import type { GraphBuilder, Sym } from '../graph/builder.ts';
import type { BlockArgs, BlockModule, NormModule } from './factories.ts';
import { makeAttention, makeMlp, makeNorm } from './factories.ts';
import { LayerScale } from './layers.ts';
import { paramsOf, type ParamSpec } from './params.ts';

export class Block implements BlockModule {
  readonly norm1: NormModule;
  readonly attn: ReturnType<typeof makeAttention>;
  readonly ls1: LayerScale | null;
  readonly norm2: NormModule;
  readonly mlp: ReturnType<typeof makeMlp>;
  readonly ls2: LayerScale | null;
  constructor(
    readonly prefix: string,
    a: BlockArgs,
  ) {
    this.norm1 = makeNorm(a.normLayer, `${prefix}.norm1`, a.dim, a.normEps);
    this.attn = makeAttention(a.attnLayer, `${prefix}.attn`, a);
    this.ls1 = a.initValues !== null ? new LayerScale(`${prefix}.ls1`, a.dim, a.initValues) : null;
    this.norm2 = makeNorm(a.normLayer, `${prefix}.norm2`, a.dim, a.normEps);
    this.mlp = makeMlp(a.mlpLayer, `${prefix}.mlp`, a.dim, Math.floor(a.dim * a.mlpRatio), a.actLayer);
    this.ls2 = a.initValues !== null ? new LayerScale(`${prefix}.ls2`, a.dim, a.initValues) : null;
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
    const [b, t, d] = x.shape;
    const keep = keepTokens !== undefined && keepTokens < t ? keepTokens : undefined;
    const shortcut = keep ? g.op('slice_tokens', this.prefix, [x], [b, keep, d], { attrs: { start: 0, count: keep } }) : x;
    const ls = (m: LayerScale | null, y: Sym) => (m ? m.build(g, y) : y);
    x = g.add(`${this.prefix}.add1`, shortcut, ls(this.ls1, this.attn.build(g, this.norm1.build(g, x), keep)));
    return g.add(`${this.prefix}.add2`, x, ls(this.ls2, this.mlp.build(g, this.norm2.build(g, x))));
  }
}
