// timm ParallelThingsBlock ("Three things everyone should know about ViTs"): x = x + sum_i ls(attn_i(norm_i(x)));
// then x = x + sum_i ls(mlp_i(norm_i(x))), with num_parallel branches (keys attns.i.* / ffns.i.*).
import type { GraphBuilder, Sym } from '../graph/builder.ts';
import { applyLs, keptRows, layerScale, pruneTo } from './block.ts';
import { makeAttention, makeMlp, type AttentionModule, type BlockArgs, type BlockModule, type MlpModule } from './factories.ts';
import type { LayerScale } from './layers.ts';
import { makeNorm, type NormModule } from './norms.ts';
import { paramsOf, type ParamSpec } from './params.ts';

interface Branch<M> {
  norm: NormModule;
  inner: M;
  ls: LayerScale | null;
}

export class ParallelThingsBlock implements BlockModule {
  readonly attns: Branch<AttentionModule>[];
  readonly ffns: Branch<MlpModule>[];
  constructor(
    readonly prefix: string,
    a: BlockArgs,
    numParallel = 2,
  ) {
    const branch = <M>(p: string, inner: (p: string) => M): Branch<M> =>
      ({ norm: makeNorm(a, `${p}.norm`, a.dim), inner: inner(p), ls: layerScale(a, `${p}.ls`) });
    const n = [...Array(numParallel).keys()];
    this.attns = n.map((i) => branch(`${prefix}.attns.${i}`, (p) => makeAttention(a, `${p}.attn`)));
    this.ffns = n.map((i) => branch(`${prefix}.ffns.${i}`, (p) => makeMlp(a, `${p}.mlp`)));
  }

  parameters(): ParamSpec[] {
    return [...this.attns, ...this.ffns].flatMap((b) => paramsOf(b.norm, b.inner, b.ls));
  }

  build(g: GraphBuilder, x: Sym, keepTokens?: number): Sym {
    const keep = pruneTo(x, keepTokens);
    let y = keptRows(g, this.prefix, x, keep);
    this.attns.forEach((b, i) => {
      y = g.add(`${this.prefix}.attns.${i}.add`, y, applyLs(g, b.ls, b.inner.build(g, b.norm.build(g, x), keep)));
    });
    const mid = y;
    this.ffns.forEach((b, i) => {
      y = g.add(`${this.prefix}.ffns.${i}.add`, y, applyLs(g, b.ls, b.inner.build(g, b.norm.build(g, mid))));
    });
    return y;
  }
}
