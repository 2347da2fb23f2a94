// The part of forward_features / forward_intermediates every ViT model class shares: run the blocks (only up to the
// last requested index with stop_early; the last block may compute only the head's tokens), apply the final norm,
// and shape the taken intermediates as timm does (optionally normed, prefix tokens dropped, NCHW or NLC).
import type { GraphBuilder, Sym } from '../graph/builder.ts';
import type { IntermediatesSpec } from './model-module.ts';
import type { NormModule } from './norms.ts';

export interface Trunk {
  depth: number;
  /** Block i on x; `keepTokens` only for the last block of a logits-only forward. */
  block(g: GraphBuilder, i: number, x: Sym, keepTokens?: number): Sym;
  norm: NormModule | null;
  numPrefixTokens: number;
}

export function buildTrunk(g: GraphBuilder, trunk: Trunk, x: Sym, grid: readonly [number, number], inter?: IntermediatesSpec,
  keepTokens?: number): { features: Sym; intermediates: Sym[] } {
  const taken = new Map<number, Sym>();
  const want = new Set(inter?.indices ?? []);
  const depth = inter?.stopEarly && want.size ? Math.max(...want) + 1 : trunk.depth;
  for (let i = 0; i < depth; i++) {
    x = trunk.block(g, i, x, i === depth - 1 && !want.has(i) ? keepTokens : undefined);
    if (want.has(i)) taken.set(i, x);
  }
  const features = trunk.norm ? trunk.norm.build(g, x) : x;
  const np = trunk.numPrefixTokens;
  const [gh, gw] = grid;
  const intermediates = (inter?.indices ?? []).map((i) => {
    let s = taken.get(i)!;
    if (inter!.norm && trunk.norm) s = trunk.norm.build(g, s);
    const [b, T, D] = s.shape;
    if (np) s = g.op('slice_tokens', `blocks.${i}`, [s], [b, T - np, D], { attrs: { start: np, count: T - np } });
    if (inter!.outputFmt === 'NCHW') s = g.op('tokens_to_nchw', `blocks.${i}`, [s], [b, D, gh, gw], { attrs: { h: gh, w: gw } });
    return s;
  });
  return { features, intermediates };
}
