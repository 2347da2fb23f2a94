// timm layers/mlp.py Mlp: fc1 -> activation (fused into the GEMM) -> optional norm (scale_mlp_norm) -> fc2.
import type { GraphBuilder, Sym } from '../graph/builder.ts';
import { Linear, type LinearAct } from './layers.ts';
import { makeNorm, type NormChoice, type NormModule } from './norms.ts';
import { paramsOf, type ParamSpec } from './params.ts';

export interface MlpArgs {
  dim: number;
  hidden: number;
  act: LinearAct;
  /** Biases of fc1 and fc2 (timm's Mlp `bias`, the block's proj_bias). */
  bias: boolean;
  /** A norm over the hidden features before fc2; null = none. */
  norm: NormChoice | null;
  /** Gated MLPs (GluMlp): the activation gates the second half of fc1's output (timm gate_last). */
  gateLast: boolean;
}

export class Mlp {
  readonly fc1: Linear;
  readonly norm: NormModule | null;
  readonly fc2: Linear;
  constructor(
    readonly prefix: string,
    readonly a: MlpArgs,
  ) {
    this.fc1 = new Linear(`${prefix}.fc1`, a.dim, a.hidden, a.bias);
    this.norm = a.norm ? makeNorm(a.norm, `${prefix}.norm`, a.hidden) : null;
    this.fc2 = new Linear(`${prefix}.fc2`, a.hidden, a.dim, a.bias);
  }

  parameters(): ParamSpec[] {
    return paramsOf(this.fc1, this.norm, this.fc2);
  }

  build(g: GraphBuilder, x: Sym): Sym {
    let h = this.fc1.build(g, x, this.a.act);
    if (this.norm) h = this.norm.build(g, h);
    return this.fc2.build(g, h);
  }
}
