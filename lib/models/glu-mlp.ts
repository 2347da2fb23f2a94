// timm's gated MLPs (layers/mlp.py). SwiGLU: act(fc1_g(x)) * fc1_x(x) -> norm -> fc2. GluMlp: one packed fc1 whose
// output halves are x1 | x2; x1 * act(x2) (gate last), or act(x1) * x2 as SwiGLUPacked (DINOv2 giant) computes it.
import type { GraphBuilder, Sym } from '../graph/builder.ts';
import { ACT, Linear } from './layers.ts';
import type { MlpArgs } from './mlp.ts';
import { makeNorm, type NormModule } from './norms.ts';
import { paramsOf, type ParamSpec } from './params.ts';

export class SwiGLU {
  readonly fc1g: Linear;
  readonly fc1x: Linear;
  readonly norm: NormModule | null;
  readonly fc2: Linear;
  constructor(
    readonly prefix: string,
    readonly a: MlpArgs,
  ) {
    this.fc1g = new Linear(`${prefix}.fc1_g`, a.dim, a.hidden, a.bias);
    this.fc1x = new Linear(`${prefix}.fc1_x`, a.dim, a.hidden, a.bias);
    this.norm = a.norm ? makeNorm(a.norm, `${prefix}.norm`, a.hidden) : null;
    this.fc2 = new Linear(`${prefix}.fc2`, a.hidden, a.dim, a.bias);
  }

  parameters(): ParamSpec[] {
    return paramsOf(this.fc1g, this.fc1x, this.norm, this.fc2);
  }

  build(g: GraphBuilder, x: Sym): Sym {
    const gate = this.fc1g.build(g, x, this.a.act);
    let h = g.op('mul', `${this.prefix}.gate`, [gate, this.fc1x.build(g, x)], gate.shape);
    if (this.norm) h = this.norm.build(g, h);
    return this.fc2.build(g, h);
  }
}

export class GluMlp {
  readonly fc1: Linear;
  readonly norm: NormModule | null;
  readonly fc2: Linear;
  constructor(
    readonly prefix: string,
    readonly a: MlpArgs,
    /** SwiGLUPacked: the activation applies to the first half. */
    readonly gateFirst: boolean,
  ) {
    if (a.hidden % 2) throw new Error(`${prefix}: a gated MLP needs an even hidden size, got ${a.hidden}`);
    this.fc1 = new Linear(`${prefix}.fc1`, a.dim, a.hidden, a.bias);
    this.norm = a.norm ? makeNorm(a.norm, `${prefix}.norm`, a.hidden / 2) : null;
    this.fc2 = new Linear(`${prefix}.fc2`, a.hidden / 2, a.dim, a.bias);
  }

  parameters(): ParamSpec[] {
    return paramsOf(this.fc1, this.norm, this.fc2);
  }

  build(g: GraphBuilder, x: Sym): Sym {
    const y = this.fc1.build(g, x);
    const shape = [...y.shape.slice(0, -1), this.a.hidden / 2];
    let h = g.op('glu', `${this.prefix}.glu`, [y], shape, { attrs: { act: ACT[this.a.act], gate_first: this.gateFirst ? 1 : 0 } });
    if (this.norm) h = this.norm.build(g, h);
    return this.fc2.build(g, h);
  }
}
