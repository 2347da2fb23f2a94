// timm ResPostBlock (post-norm, the _rpn models): x = x + norm1(attn(x)); x = x + norm2(mlp(x)). With init_values,
// timm initialises the norms' weights to it (no LayerScale).
import type { GraphBuilder, Sym } from '../graph/builder.ts';
import { keptRows, pruneTo } from './block.ts';
import { makeAttention, makeMlp, type AttentionModule, type BlockArgs, type BlockModule, type MlpModule } from './factories.ts';
import { makeNorm, type NormModule } from './norms.ts';
import { paramsOf, type ParamSpec } from './params.ts';

export class ResPostBlock implements BlockModule {
  readonly attn: AttentionModule;
  readonly norm1: NormModule;
  readonly mlp: MlpModule;
  readonly norm2: NormModule;
  constructor(
    readonly prefix: string,
    private readonly a: BlockArgs,
  ) {
    this.attn = makeAttention(a, `${prefix}.attn`);
    this.norm1 = makeNorm(a, `${prefix}.norm1`, a.dim);
    this.mlp = makeMlp(a, `${prefix}.mlp`);
    this.norm2 = makeNorm(a, `${prefix}.norm2`, a.dim);
  }

  parameters(): ParamSpec[] {
    const p = paramsOf(this.attn, this.norm1, this.mlp, this.norm2);
    const iv = this.a.initValues;
    const weights = [`${this.prefix}.norm1.weight`, `${this.prefix}.norm2.weight`];
    return iv === null ? p : p.map((s) => (weights.includes(s.key) ? { ...s, init: { value: iv } } : s));
  }

  build(g: GraphBuilder, x: Sym, keepTokens?: number): Sym {
    const keep = pruneTo(x, keepTokens);
    x = g.add(`${this.prefix}.add1`, keptRows(g, this.prefix, x, keep), this.norm1.build(g, this.attn.build(g, x, keep)));
    return g.add(`${this.prefix}.add2`, x, this.norm2.build(g, this.mlp.build(g, x)));
  }
}
