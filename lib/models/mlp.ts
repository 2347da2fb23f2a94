// timm layers/mlp.py Mlp: fc1 -> GELU (exact erf, or timm's 'gelu_tanh'; fused into the GEMM) -> fc2 (+ residual).
import type { GraphBuilder, Sym } from '../graph/builder.ts';
import { Linear, type Param } from './layers.ts';

export class Mlp {
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(
    readonly prefix: string,
    dim: number,
    hidden: number,
    readonly act: 'gelu' | 'gelu_tanh' = 'gelu',
  ) {
    this.fc1 = new Linear(`${prefix}.fc1`, dim, hidden);
    this.fc2 = new Linear(`${prefix}.fc2`, hidden, dim);
  }

  params(): Param[] {
    return [...this.fc1.params(), ...this.fc2.params()];
  }

  build(g: GraphBuilder, x: Sym, residual: Sym, gamma?: string): Sym {
    const h = this.fc1.build(g, x, { act: this.act });
    return this.fc2.build(g, h, { residual, gamma });
  }
}
