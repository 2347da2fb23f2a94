// eva.py's attentions: EvaAttention (attn_type 'eva') and layers/attention.py AttentionRope (attn_type 'rope'),
// with RoPE applied to q and k after the split (prefix tokens unrotated) by the native `rope` op.
//
// EvaAttention's fused qkv has no qkv.bias: timm concatenates q_bias, a zero k bias (a non-persistent buffer) and
// v_bias at every forward. Here the Linear's bias role points at that concatenation, derived once when the program
// is built under the internal key '@eva/<prefix>.qkv.bias' (GraphBuilder.derive); timm's keys stay as they are.
import type { GraphBuilder, OpAttrs, Sym } from '../graph/builder.ts';
import { ACT, Linear } from './layers.ts';
import { makeNorm, type NormChoice, type NormModule } from './norms.ts';
import { param, paramsOf, type ParamSpec } from './params.ts';
import type { RopeTable } from './rope.ts';

export interface EvaAttentionArgs extends NormChoice {
  dim: number;
  numHeads: number;
  qkvBias: boolean;
  qkvFused: boolean;
  /** scale_attn_inner: a norm over the merged heads before proj. */
  scaleNorm: boolean;
}

export interface EvaAttentionModule {
  parameters(): ParamSpec[];
  /** proj(attn(x)) [B, Q, D] with q and k rotated by `rope` (null: no RoPE); `queries`: the first Q rows only. */
  build(g: GraphBuilder, x: Sym, rope: RopeTable | null, queries?: number): Sym;
}

/** The native rope op over `sections` D-wide column blocks of x (2: q and k of packed qkv). */
export function applyRope(g: GraphBuilder, name: string, x: Sym, rope: RopeTable, heads: number, sections: number): Sym {
  return g.op('rope', name, [x], x.shape, {
    weights: { table: rope.key },
    attrs: { heads, sections, start: rope.start, half: rope.half ? 1 : 0 },
  });
}

/** softmax(q k^T / sqrt(hd)) v, then the inner norm and proj: the part both attentions share. */
abstract class RopeAttentionBase implements EvaAttentionModule {
  readonly norm: NormModule | null;
  readonly proj: Linear;
  constructor(
    readonly prefix: string,
    readonly a: EvaAttentionArgs,
  ) {
    this.norm = a.scaleNorm ? makeNorm(a, `${prefix}.norm`, a.dim) : null;
    this.proj = new Linear(`${prefix}.proj`, a.dim, a.dim);
  }

  abstract parameters(): ParamSpec[];
  abstract build(g: GraphBuilder, x: Sym, rope: RopeTable | null, queries?: number): Sym;

  protected attrs(): OpAttrs['attention'] {
    return { heads: this.a.numHeads, scale: (this.a.dim / this.a.numHeads) ** -0.5 };
  }

  /** Packed qkv [B, T, 3D] -> rope on q and k -> attention -> norm -> proj. */
  protected fromPacked(g: GraphBuilder, qkv: Sym, rope: RopeTable | null, queries?: number): Sym {
    const [b, t] = qkv.shape;
    const d = this.a.dim;
    if (rope) qkv = applyRope(g, `${this.prefix}.rope`, qkv, rope, this.a.numHeads, 2);
    const q = queries ?? t;
    const attrs = this.attrs();
    if (q !== t) attrs.queries = q;
    return this.finish(g, g.op('attention', this.prefix, [qkv], [b, q, d], { attrs }));
  }

  /** q, k, v [B, T, D] -> rope on q and k -> attention (3-input form) -> norm -> proj. */
  protected fromSplit(g: GraphBuilder, x: Sym, q: Sym, k: Sym, v: Sym, rope: RopeTable | null, queries?: number): Sym {
    const heads = this.a.numHeads;
    if (rope) {
      q = applyRope(g, `${this.prefix}.rope_q`, q, rope, heads, 1);
      k = applyRope(g, `${this.prefix}.rope_k`, k, rope, heads, 1);
    }
    const [b, t, d] = x.shape;
    if (queries !== undefined && queries < t) {
      q = g.op('slice_tokens', `${this.prefix}.queries`, [q], [b, queries, d], { attrs: { start: 0, count: queries } });
    }
    return this.finish(g, g.op('attention', this.prefix, [q, k, v], [b, q.shape[1], d], { attrs: this.attrs() }));
  }

  protected finish(g: GraphBuilder, a: Sym): Sym {
    if (this.norm) a = this.norm.build(g, a);
    return this.proj.build(g, a);
  }
}

/** EvaAttention: fused qkv (weight only) + q_bias / v_bias, or q_proj / k_proj (no bias) / v_proj. */
export class EvaAttention extends RopeAttentionBase {
  readonly qkv: Linear | null;
  readonly qProj: Linear | null;
  readonly kProj: Linear | null;
  readonly vProj: Linear | null;
  constructor(prefix: string, a: EvaAttentionArgs) {
    super(prefix, a);
    const d = a.dim;
    this.qkv = a.qkvFused ? new Linear(`${prefix}.qkv`, d, 3 * d, false) : null;
    this.qProj = a.qkvFused ? null : new Linear(`${prefix}.q_proj`, d, d, a.qkvBias);
    this.kProj = a.qkvFused ? null : new Linear(`${prefix}.k_proj`, d, d, false);
    this.vProj = a.qkvFused ? null : new Linear(`${prefix}.v_proj`, d, d, a.qkvBias);
  }

  parameters(): ParamSpec[] {
    const d = this.a.dim;
    if (!this.a.qkvFused) return paramsOf(this.qProj, this.kProj, this.vProj, this.norm, this.proj);
    const bias = this.a.qkvBias ? [param(`${this.prefix}.q_bias`, [d], 'zeros'), param(`${this.prefix}.v_bias`, [d], 'zeros')] : [];
    return [...bias, ...paramsOf(this.qkv, this.norm, this.proj)];
  }

  build(g: GraphBuilder, x: Sym, rope: RopeTable | null, queries?: number): Sym {
    if (this.qkv) return this.fromPacked(g, this.fusedQkv(g, x), rope, queries);
    return this.fromSplit(g, x, this.qProj!.build(g, x), this.kProj!.build(g, x), this.vProj!.build(g, x), rope, queries);
  }

  /** x W^T + cat(q_bias, 0, v_bias): one GEMM whose bias is assembled at program build. */
  private fusedQkv(g: GraphBuilder, x: Sym): Sym {
    const d = this.a.dim;
    const shape = [...x.shape.slice(0, -1), 3 * d];
    const weights: { weight: string; bias?: string } = { weight: `${this.prefix}.qkv.weight` };
    if (this.a.qkvBias) {
      const p = this.prefix;
      weights.bias = g.derive(`@eva/${p}.qkv.bias`, [3 * d], (get) => {
        const b = new Float32Array(3 * d);
        b.set(get(`${p}.q_bias`), 0);
        b.set(get(`${p}.v_bias`), 2 * d);
        return b;
      });
    }
    return g.op('linear', `${this.prefix}.qkv`, [x], shape, { weights, attrs: { act: ACT.none } });
  }
}

/** AttentionRope (attn_type 'rope'): one qkv Linear with a real bias (k included), or q_proj / k_proj / v_proj. */
export class AttentionRope extends RopeAttentionBase {
  readonly qkv: Linear | null;
  readonly split: [Linear, Linear, Linear] | null;
  constructor(prefix: string, a: EvaAttentionArgs) {
    super(prefix, a);
    const d = a.dim;
    this.qkv = a.qkvFused ? new Linear(`${prefix}.qkv`, d, 3 * d, a.qkvBias) : null;
    this.split = a.qkvFused ? null : [new Linear(`${prefix}.q_proj`, d, d, a.qkvBias), new Linear(`${prefix}.k_proj`, d, d, a.qkvBias),
      new Linear(`${prefix}.v_proj`, d, d, a.qkvBias)];
  }

  parameters(): ParamSpec[] {
    return paramsOf(this.qkv, ...(this.split ?? []), this.norm, this.proj);
  }

  build(g: GraphBuilder, x: Sym, rope: RopeTable | null, queries?: number): Sym {
    if (this.qkv) return this.fromPacked(g, this.qkv.build(g, x), rope, queries);
    const [q, k, v] = this.split!.map((l) => l.build(g, x));
    return this.fromSplit(g, x, q, k, v, rope, queries);
  }
}

/** eva.py attn_type values -> attention classes (what model_args attn_type accepts). */
export const EVA_ATTN_TYPES: Record<string, (prefix: string, a: EvaAttentionArgs) => EvaAttentionModule> = {
  eva: (prefix, a) => new EvaAttention(prefix, a),
  rope: (prefix, a) => new AttentionRope(prefix, a),
};
