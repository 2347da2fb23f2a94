// timm norm_layer names -> norm classes (a table of its own: attention and MLPs take norms too).
import type { GraphBuilder, Sym } from '../graph/builder.ts';
import { LayerNorm, RmsNorm } from './layers.ts';
import type { ParamSpec } from './params.ts';

export interface NormModule {
  parameters(): ParamSpec[];
  build(g: GraphBuilder, x: Sym): Sym;
  /** Present when the native head_norm op (per-head q / k norm) can compute this norm. */
  readonly headNorm?: { kind: number; bias: boolean };
}

export const NORM_LAYERS: Record<string, (prefix: string, dim: number, eps: number) => NormModule> = {
  layernorm: (prefix, dim, eps) => new LayerNorm(prefix, dim, eps),
  rmsnorm: (prefix, dim, eps) => new RmsNorm(prefix, dim, eps),
};

/** The injected norm: timm norm_layer name, its eps. */
export interface NormChoice {
  normLayer: string;
  normEps: number;
}

export function makeNorm(c: NormChoice, prefix: string, dim: number): NormModule {
  if (!Object.hasOwn(NORM_LAYERS, c.normLayer)) throw new Error(`norm_layer '${c.normLayer}' is not built (registry should have refused it)`);
  return NORM_LAYERS[c.normLayer](prefix, dim, c.normEps);
}
