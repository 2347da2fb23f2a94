// timm layers/mlp.py Mlp: fc1 -> activation (fused into the GEMM) -> fc2.
import type { GraphBuilder, Sym } from '../graph/builder.ts';
import { Linear, type LinearAct } from './layers.ts';
import { paramsOf, type ParamSpec } from './params.ts';

export class Mlp {
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(
    readonly prefix: string,
    dim: number,
    hidden: number,
    readonly act: LinearAct,
  ) {
    this.fc1 = new Linear(`${prefix}.fc1`, dim, hidden);
    this.fc2 = new Linear(`${prefix}.fc2`, hidden, dim);
  }

  parameters(): ParamSpec[] {
    return paramsOf(this.fc1, this.fc2);
  }

  build(g: GraphBuilder, x: Sym): Sym {
    return this.fc2.build(g, this.fc1.build(g, x, this.act));
  }
}
