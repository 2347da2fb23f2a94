// timm's attention pools (layers/attention_pool.py), VisionTransformer global_pool 'map' and 'prr': [B, T, D] -> [B, D].
import type { GraphBuilder, Sym } from '../graph/builder.ts';
import { Linear, type LinearAct } from './layers.ts';
import { Mlp } from './mlp.ts';
import { makeNorm, type NormChoice, type NormModule } from './norms.ts';
import { param, paramsOf, type ParamSpec } from './params.ts';

/** Token 0 of a [B, N, D] sequence as [B, D]. */
const firstToken = (g: GraphBuilder, name: string, x: Sym) =>
  g.op('pool', name, [x], [x.shape[0], x.shape[2]], { attrs: { mode: 0, start: 0, index: 0 } });

/**
 * AttentionPoolLatent (SigLIP's MAP head): one learned latent query attends over the tokens (q from the latent, k | v
 * from one kv Linear), proj, then x + mlp(norm(x)); returns the latent token.
 */
export class AttentionPoolLatent {
  readonly q: Linear;
  readonly kv: Linear;
  readonly proj: Linear;
  readonly norm: NormModule;
  readonly mlp: Mlp;
  constructor(
    readonly prefix: string,
    readonly dim: number,
    readonly numHeads: number,
    mlpRatio: number,
    norm: NormChoice,
    act: LinearAct,
  ) {
    this.q = new Linear(`${prefix}.q`, dim, dim);
    this.kv = new Linear(`${prefix}.kv`, dim, 2 * dim);
    this.proj = new Linear(`${prefix}.proj`, dim, dim);
    this.norm = makeNorm(norm, `${prefix}.norm`, dim);
    this.mlp = new Mlp(`${prefix}.mlp`, { dim, hidden: Math.floor(dim * mlpRatio), act, bias: true, norm: null, gateLast: true });
  }

  parameters(): ParamSpec[] {
    return [param(`${this.prefix}.latent`, [1, 1, this.dim], 'trunc_normal'), ...paramsOf(this.q, this.kv, this.proj, this.norm, this.mlp)];
  }

  build(g: GraphBuilder, x: Sym): Sym {
    const [b, , d] = x.shape;
    const q = this.q.build(g, g.weight(`${this.prefix}.latent`, [1, 1, d])); // [1, 1, D], shared by the batch
    const kv = this.kv.build(g, x); // [B, N, 2D]
    const attrs = { heads: this.numHeads, scale: (d / this.numHeads) ** -0.5 };
    const a = g.op('attention', this.prefix, [q, kv], [b, 1, d], { attrs });
    const y = this.proj.build(g, a);
    return firstToken(g, `${this.prefix}.pool`, g.add(`${this.prefix}.add`, y, this.mlp.build(g, this.norm.build(g, y))));
  }
}

/** AttentionPoolPrr: parameter-free multi-head self-attention of the tokens (q = k = v = x, split into heads), then
 *  the class token, or the mean of every token without one. */
export class AttentionPoolPrr {
  constructor(
    readonly prefix: string,
    readonly numHeads: number,
    readonly poolType: 'token' | 'avg',
  ) {}

  parameters(): ParamSpec[] {
    return [];
  }

  build(g: GraphBuilder, x: Sym): Sym {
    const [b, n, d] = x.shape;
    const attrs = { heads: this.numHeads, scale: (d / this.numHeads) ** -0.5 };
    if (this.poolType === 'token') {
      // Only the class token's row is read: one query over every key.
      const q = g.op('slice_tokens', `${this.prefix}.query`, [x], [b, 1, d], { attrs: { start: 0, count: 1 } });
      return firstToken(g, `${this.prefix}.pool`, g.op('attention', this.prefix, [q, x, x], [b, 1, d], { attrs }));
    }
    const y = g.op('attention', this.prefix, [x, x, x], [b, n, d], { attrs });
    return g.op('pool', `${this.prefix}.pool`, [y], [b, d], { attrs: { mode: 1, start: 0, index: 0 } });
  }
}
