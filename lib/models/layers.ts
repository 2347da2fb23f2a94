// Shared builders for the timm layers every module uses: Linear, LayerNorm and LayerScale, named by state_dict
// prefix. Residual adds and LayerScale are written as timm writes them; the graph builder's fusion pass folds
// them into the Linear before them (lib/graph/fuse.ts).
import type { GraphBuilder, OpWeights, Sym } from '../graph/builder.ts';
import { param, type ParamSpec } from './params.ts';

export type { Param, ParamSpec } from './params.ts';

/** Activations a Linear can apply in its epilogue (native attr `act`). */
export const ACT = { none: 0, gelu: 1, tanh: 2, gelu_tanh: 3 } as const;
export type LinearAct = keyof typeof ACT;

export class Linear {
  constructor(
    readonly prefix: string,
    readonly inFeatures: number,
    readonly outFeatures: number,
    readonly bias = true,
  ) {}

  parameters(): ParamSpec[] {
    const p = [param(`${this.prefix}.weight`, [this.outFeatures, this.inFeatures], 'trunc_normal')];
    if (this.bias) p.push(param(`${this.prefix}.bias`, [this.outFeatures], 'zeros'));
    return p;
  }

  /** y = act(x W^T + b), one native GEMM. */
  build(g: GraphBuilder, x: Sym, act: LinearAct = 'none'): Sym {
    const weights: OpWeights['linear'] = { weight: `${this.prefix}.weight` };
    if (this.bias) weights.bias = `${this.prefix}.bias`;
    const shape = [...x.shape.slice(0, -1), this.outFeatures];
    return g.op('linear', this.prefix, [x], shape, { weights, attrs: { act: ACT[act] } });
  }
}

export class LayerNorm {
  constructor(
    readonly prefix: string,
    readonly dim: number,
    readonly eps: number,
  ) {}

  parameters(): ParamSpec[] {
    return [param(`${this.prefix}.weight`, [this.dim], 'ones'), param(`${this.prefix}.bias`, [this.dim], 'zeros')];
  }

  build(g: GraphBuilder, x: Sym): Sym {
    return g.op('layer_norm', this.prefix, [x], x.shape, {
      weights: { weight: `${this.prefix}.weight`, bias: `${this.prefix}.bias` },
      attrs: { eps: this.eps },
    });
  }
}

/** timm LayerScale: x * gamma (per channel). */
export class LayerScale {
  constructor(
    readonly prefix: string,
    readonly dim: number,
    readonly initValues: number,
  ) {}

  parameters(): ParamSpec[] {
    return [param(`${this.prefix}.gamma`, [this.dim], { value: this.initValues })];
  }

  build(g: GraphBuilder, x: Sym): Sym {
    return g.layerScale(this.prefix, x, `${this.prefix}.gamma`);
  }
}
