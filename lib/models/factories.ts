// Layers injected as timm injects them (act_layer, mlp_layer, attn_layer; norm_layer in norms.ts): each name a
// timm argument value, each variant its own class. These tables are also what the registry accepts: an option
// value missing here is reported as not supported yet (lib/registry/model-args.ts).
import type { GraphBuilder, Sym } from '../graph/builder.ts';
import { Attention, type AttentionArgs } from './attention.ts';
import type { LinearAct } from './layers.ts';
import { GluMlp, SwiGLU } from './glu-mlp.ts';
import { Mlp, type MlpArgs } from './mlp.ts';
import type { NormChoice } from './norms.ts';
import type { ParamSpec } from './params.ts';

export { NORM_LAYERS, makeNorm, type NormModule, type NormChoice } from './norms.ts';

export interface Module {
  parameters(): ParamSpec[];
}
export interface MlpModule extends Module {
  build(g: GraphBuilder, x: Sym): Sym;
}
export interface AttentionModule extends Module {
  build(g: GraphBuilder, x: Sym, queries?: number): Sym;
}
export interface BlockModule extends Module {
  build(g: GraphBuilder, x: Sym, keepTokens?: number): Sym;
}

/** What a transformer block is built from (the resolved timm block kwargs). */
export interface BlockArgs extends AttentionArgs, NormChoice {
  mlpRatio: number;
  /** LayerScale init value; null = no LayerScale. */
  initValues: number | null;
  scaleMlpNorm: boolean;
  mlpGateLast: boolean;
  actLayer: string;
  mlpLayer: string;
  attnLayer: string;
}

/** timm act_layer names -> the Linear epilogue that computes them. */
export const ACT_LAYERS: Record<string, LinearAct> = {
  gelu: 'gelu',
  gelu_tanh: 'gelu_tanh',
  quick_gelu: 'quick_gelu',
  silu: 'silu',
  swish: 'silu',
  relu: 'relu',
  sigmoid: 'sigmoid',
  tanh: 'tanh',
};

export const MLP_LAYERS: Record<string, (prefix: string, a: MlpArgs) => MlpModule> = {
  Mlp: (prefix, a) => new Mlp(prefix, a),
  SwiGLU: (prefix, a) => new SwiGLU(prefix, a),
  GluMlp: (prefix, a) => new GluMlp(prefix, a, !a.gateLast),
  SwiGLUPacked: (prefix, a) => new GluMlp(prefix, a, true),
};

export const ATTN_LAYERS: Record<string, (prefix: string, a: AttentionArgs) => AttentionModule> = {
  Attention: (prefix, a) => new Attention(prefix, a),
};

function pick<T>(table: Record<string, T>, what: string, name: string): T {
  if (!Object.hasOwn(table, name)) throw new Error(`${what} '${name}' is not built (registry should have refused it)`);
  return table[name];
}

/** The block's MLP (timm: mlp_layer(dim, hidden_features=int(dim * mlp_ratio), act_layer, norm_layer if
 *  scale_mlp_norm, bias=proj_bias)). */
export function makeMlp(a: BlockArgs, prefix: string): MlpModule {
  const args: MlpArgs = {
    dim: a.dim,
    hidden: Math.floor(a.dim * a.mlpRatio),
    act: pick(ACT_LAYERS, 'act_layer', a.actLayer),
    bias: a.projBias,
    norm: a.scaleMlpNorm ? a : null,
    gateLast: a.mlpGateLast,
  };
  return pick(MLP_LAYERS, 'mlp_layer', a.mlpLayer)(prefix, args);
}

export const makeAttention = (a: BlockArgs, prefix: string) => pick(ATTN_LAYERS, 'attn_layer', a.attnLayer)(prefix, a);
