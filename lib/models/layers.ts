// Shared builders for the timm layers every module uses: Linear and LayerNorm, named by state_dict prefix.
import type { GraphBuilder, OpWeights, Sym } from '../graph/builder.ts';

export type Param = [key: string, shape: number[]];

export const ACT = { none: 0, gelu: 1, tanh: 2, gelu_tanh: 3 } as const;

export class Linear {
  constructor(
    readonly prefix: string,
    readonly inFeatures: number,
    readonly outFeatures: number,
    readonly bias = true,
  ) {}

  params(): Param[] {
    const p: Param[] = [[`${this.prefix}.weight`, [this.outFeatures, this.inFeatures]]];
    if (this.bias) p.push([`${this.prefix}.bias`, [this.outFeatures]]);
    return p;
  }

  /** y = residual + gamma * act(x W^T + b), all in one native GEMM with post-ops. */
  build(
    g: GraphBuilder,
    x: Sym,
    opts: { act?: keyof typeof ACT; gamma?: string; residual?: Sym } = {},
  ): Sym {
    const weights: OpWeights['linear'] = { weight: `${this.prefix}.weight` };
    if (this.bias) weights.bias = `${this.prefix}.bias`;
    if (opts.gamma) weights.gamma = opts.gamma;
    const shape = [...x.shape.slice(0, -1), this.outFeatures];
    const inputs = opts.residual ? [x, opts.residual] : [x];
    return g.op('linear', this.prefix, inputs, shape, { weights, attrs: { act: ACT[opts.act ?? 'none'] } });
  }
}

export class LayerNorm {
  constructor(
    readonly prefix: string,
    readonly dim: number,
    readonly eps: number,
  ) {}

  params(): Param[] {
    return [
      [`${this.prefix}.weight`, [this.dim]],
      [`${this.prefix}.bias`, [this.dim]],
    ];
  }

  build(g: GraphBuilder, x: Sym): Sym {
    return g.op('layer_norm', this.prefix, [x], x.shape, {
      weights: { weight: `${this.prefix}.weight`, bias: `${this.prefix}.bias` },
      attrs: { eps: this.eps },
    });
  }
}
