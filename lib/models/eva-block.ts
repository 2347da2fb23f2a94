// eva.py's blocks. EvaBlock (pre-norm): x = x + gamma_1 * attn(norm1(x), rope); x = x + gamma_2 * mlp(norm2(x)),
// LayerScale as plain parameters gamma_1 / gamma_2 (folded into attn.proj / the MLP's fc2 by the fusion pass).
// EvaBlockPostNorm: x = x + norm1(attn(x, rope)); x = x + norm2(mlp(x)), never LayerScale.
import type { GraphBuilder, Sym } from '../graph/builder.ts';
import { keptRows, pruneTo } from './block.ts';
import { EVA_ATTN_TYPES, type EvaAttentionArgs, type EvaAttentionModule } from './eva-attention.ts';
import type { MlpModule } from './factories.ts';
import { GluMlp, SwiGLU } from './glu-mlp.ts';
import { Mlp, type MlpArgs } from './mlp.ts';
import { makeNorm, type NormModule } from './norms.ts';
import { param, paramsOf, type ParamSpec } from './params.ts';
import type { RopeTable } from './rope.ts';

export interface EvaBlockArgs extends EvaAttentionArgs {
  attnType: string;
  mlpRatio: number;
  swigluMlp: boolean;
  swigluAlignTo: number;
  /** scale_mlp: a norm over the MLP's hidden features. */
  scaleMlp: boolean;
  initValues: number | null;
}

export interface EvaBlockModule {
  parameters(): ParamSpec[];
  build(g: GraphBuilder, x: Sym, rope: RopeTable | null, keepTokens?: number): Sym;
}

/** EvaBlock's MLP choice: SwiGLU (separate fc1_g / fc1_x) with scale_mlp or swiglu_align_to, else packed GluMlp
 *  (silu on the first half), or the GELU Mlp. */
export function evaMlp(prefix: string, a: EvaBlockArgs): MlpModule {
  const hidden = Math.floor(a.dim * a.mlpRatio);
  const args: MlpArgs = { dim: a.dim, hidden, act: 'gelu', bias: true, norm: a.scaleMlp ? a : null, gateLast: true };
  if (!a.swigluMlp) return new Mlp(prefix, args);
  if (a.scaleMlp || a.swigluAlignTo) {
    const align = a.swigluAlignTo;
    const h = align ? hidden + ((align - (hidden % align)) % align) : hidden;
    return new SwiGLU(prefix, { ...args, hidden: h, act: 'silu' });
  }
  return new GluMlp(prefix, { ...args, hidden: 2 * hidden, act: 'silu' }, true);
}

function makeEvaAttention(prefix: string, a: EvaBlockArgs): EvaAttentionModule {
  if (!Object.hasOwn(EVA_ATTN_TYPES, a.attnType)) throw new Error(`attn_type '${a.attnType}' is not built (registry should have refused it)`);
  return EVA_ATTN_TYPES[a.attnType](prefix, a);
}

export class EvaBlock implements EvaBlockModule {
  readonly norm1: NormModule;
  readonly attn: EvaAttentionModule;
  readonly norm2: NormModule;
  readonly mlp: MlpModule;
  constructor(
    readonly prefix: string,
    readonly a: EvaBlockArgs,
  ) {
    this.norm1 = makeNorm(a, `${prefix}.norm1`, a.dim);
    this.attn = makeEvaAttention(`${prefix}.attn`, a);
    this.norm2 = makeNorm(a, `${prefix}.norm2`, a.dim);
    this.mlp = evaMlp(`${prefix}.mlp`, a);
  }

  parameters(): ParamSpec[] {
    const d = this.a.dim;
    const v = this.a.initValues;
    const gammas = v !== null ? [param(`${this.prefix}.gamma_1`, [d], { value: v }), param(`${this.prefix}.gamma_2`, [d], { value: v })] : [];
    return [...gammas, ...paramsOf(this.norm1, this.attn, this.norm2, this.mlp)];
  }

  private ls(g: GraphBuilder, which: 1 | 2, y: Sym): Sym {
    return this.a.initValues !== null ? g.layerScale(`${this.prefix}.gamma_${which}`, y, `${this.prefix}.gamma_${which}`) : y;
  }

  build(g: GraphBuilder, x: Sym, rope: RopeTable | null, keepTokens?: number): Sym {
    const keep = pruneTo(x, keepTokens);
    const shortcut = keptRows(g, this.prefix, x, keep);
    x = g.add(`${this.prefix}.add1`, shortcut, this.ls(g, 1, this.attn.build(g, this.norm1.build(g, x), rope, keep)));
    return g.add(`${this.prefix}.add2`, x, this.ls(g, 2, this.mlp.build(g, this.norm2.build(g, x))));
  }
}

export class EvaBlockPostNorm implements EvaBlockModule {
  readonly attn: EvaAttentionModule;
  readonly norm1: NormModule;
  readonly mlp: MlpModule;
  readonly norm2: NormModule;
  constructor(
    readonly prefix: string,
    readonly a: EvaBlockArgs,
  ) {
    this.attn = makeEvaAttention(`${prefix}.attn`, a);
    this.norm1 = makeNorm(a, `${prefix}.norm1`, a.dim);
    this.mlp = evaMlp(`${prefix}.mlp`, a);
    this.norm2 = makeNorm(a, `${prefix}.norm2`, a.dim);
  }

  parameters(): ParamSpec[] {
    return paramsOf(this.attn, this.norm1, this.mlp, this.norm2);
  }

  build(g: GraphBuilder, x: Sym, rope: RopeTable | null, keepTokens?: number): Sym {
    const keep = pruneTo(x, keepTokens);
    const shortcut = keptRows(g, this.prefix, x, keep);
    x = g.add(`${this.prefix}.add1`, shortcut, this.norm1.build(g, this.attn.build(g, x, rope, keep)));
    return g.add(`${this.prefix}.add2`, x, this.norm2.build(g, this.mlp.build(g, x)));
  }
}

/** eva.py block_fn: use_post_norm picks EvaBlockPostNorm. */
export const EVA_BLOCKS = {
  EvaBlock: (prefix: string, a: EvaBlockArgs): EvaBlockModule => new EvaBlock(prefix, a),
  EvaBlockPostNorm: (prefix: string, a: EvaBlockArgs): EvaBlockModule => new EvaBlockPostNorm(prefix, a),
};
