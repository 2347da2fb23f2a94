// timm ParallelScalingBlock (ViT-22B style, the _xp / pwee models): one in_norm and one in_proj whose output is
// [mlp | q | k | v]; attention and the MLP run in parallel and x = x + ls(attn_out_proj(attn) + mlp_out_proj(act(mlp))).
// Without qkv_bias, in_proj has no bias and the MLP part gets its own `mlp_bias`.
import type { GraphBuilder, OpAttrs, Sym } from '../graph/builder.ts';
import { QkNorm } from './attention.ts';
import { applyLs, keptRows, layerScale, pruneTo } from './block.ts';
import { ACT_LAYERS, type BlockArgs, type BlockModule } from './factories.ts';
import { activation, Linear, type LayerScale } from './layers.ts';
import { makeNorm, type NormModule } from './norms.ts';
import { param, paramsOf, type ParamSpec } from './params.ts';

export class ParallelScalingBlock implements BlockModule {
  readonly hidden: number;
  readonly inNorm: NormModule;
  readonly inProj: Linear;
  readonly qkNorm: QkNorm | null;
  readonly attnOutProj: Linear;
  readonly mlpOutProj: Linear;
  readonly ls: LayerScale | null;
  constructor(
    readonly prefix: string,
    readonly a: BlockArgs,
  ) {
    if (a.scaleNorm || a.scaleMlpNorm) throw new Error('ParallelScalingBlock has no scale norms (timm asserts)');
    const D = a.dim;
    this.hidden = Math.floor(a.mlpRatio * D);
    this.inNorm = makeNorm(a, `${prefix}.in_norm`, D);
    this.inProj = new Linear(`${prefix}.in_proj`, D, this.hidden + 3 * D, a.qkvBias);
    this.qkNorm = a.qkNorm ? new QkNorm(prefix, a, a.numHeads, D / a.numHeads, a.normEps) : null;
    this.attnOutProj = new Linear(`${prefix}.attn_out_proj`, D, D, a.projBias);
    this.mlpOutProj = new Linear(`${prefix}.mlp_out_proj`, this.hidden, D, a.projBias);
    this.ls = layerScale(a, `${prefix}.ls`);
  }

  parameters(): ParamSpec[] {
    const own = this.a.qkvBias ? [] : [param(`${this.prefix}.mlp_bias`, [this.hidden], 'zeros')];
    return [...own, ...paramsOf(this.inNorm, this.inProj, this.qkNorm, this.attnOutProj, this.mlpOutProj, this.ls)];
  }

  build(g: GraphBuilder, x: Sym, keepTokens?: number): Sym {
    const [b, t, D] = x.shape;
    const keep = pruneTo(x, keepTokens);
    const H = this.hidden;
    const y = this.inProj.build(g, this.inNorm.build(g, x)); // [B, T, H + 3D]
    const slice = (name: string, start: number, count: number) => g.op('slice_last', `${this.prefix}.${name}`, [y], [b, t, count], { attrs: { start, count } });
    let qkv = slice('qkv', H, 3 * D);
    if (this.qkNorm) qkv = this.qkNorm.build(g, qkv);
    const q = keep ?? t;
    const attrs: OpAttrs['attention'] = { heads: this.a.numHeads, scale: this.a.scale };
    if (q !== t) attrs.queries = q;
    const xAttn = g.op('attention', `${this.prefix}.attn`, [qkv], [b, q, D], { attrs });
    let xMlp = slice('mlp', 0, H);
    if (!this.a.qkvBias) xMlp = g.op('add', `${this.prefix}.mlp_bias`, [xMlp, g.weight(`${this.prefix}.mlp_bias`, [H])], xMlp.shape);
    xMlp = activation(g, `${this.prefix}.mlp_act`, keptRows(g, `${this.prefix}.mlp_rows`, xMlp, keep), ACT_LAYERS[this.a.actLayer]);
    // x + ls(a + m) as (x + ls(a)) + ls(m): each product fuses into its Linear.
    const r = g.add(`${this.prefix}.add_attn`, keptRows(g, this.prefix, x, keep), applyLs(g, this.ls, this.attnOutProj.build(g, xAttn)));
    return g.add(`${this.prefix}.add_mlp`, r, applyLs(g, this.ls, this.mlpOutProj.build(g, xMlp)));
  }
}
