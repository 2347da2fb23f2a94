// Layers injected as timm injects them (norm_layer, act_layer, mlp_layer, attn_layer): each name a timm
// argument value, each variant its own class. These tables are also what the registry accepts: an option value
// missing here is reported as not supported yet (lib/registry/model-args.ts).
import type { GraphBuilder, Sym } from '../graph/builder.ts';
import { Attention, type AttentionArgs } from './attention.ts';
import { LayerNorm, type LinearAct } from './layers.ts';
import { Mlp } from './mlp.ts';
import type { ParamSpec } from './params.ts';

export interface Module {
  parameters(): ParamSpec[];
}
export interface NormModule extends Module {
  build(g: GraphBuilder, x: Sym): Sym;
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
export interface BlockArgs extends AttentionArgs {
  mlpRatio: number;
  normEps: number;
  /** LayerScale init value; null = no LayerScale. */
  initValues: number | null;
  normLayer: string;
  actLayer: string;
  mlpLayer: string;
  attnLayer: string;
}

/** timm act_layer names -> the Linear epilogue that computes them. */
export const ACT_LAYERS: Record<string, LinearAct> = {
  gelu: 'gelu',
  gelu_tanh: 'gelu_tanh',
};

export const NORM_LAYERS: Record<string, (prefix: string, dim: number, eps: number) => NormModule> = {
  layernorm: (prefix, dim, eps) => new LayerNorm(prefix, dim, eps),
};

export const MLP_LAYERS: Record<string, (prefix: string, dim: number, hidden: number, act: LinearAct) => MlpModule> = {
  Mlp: (prefix, dim, hidden, act) => new Mlp(prefix, dim, hidden, act),
};

export const ATTN_LAYERS: Record<string, (prefix: string, a: AttentionArgs) => AttentionModule> = {
  Attention: (prefix, a) => new Attention(prefix, a),
};

function pick<T>(table: Record<string, T>, what: string, name: string): T {
  if (!Object.hasOwn(table, name)) throw new Error(`${what} '${name}' is not built (registry should have refused it)`);
  return table[name];
}

export const makeNorm = (name: string, prefix: string, dim: number, eps: number) => pick(NORM_LAYERS, 'norm_layer', name)(prefix, dim, eps);
export const makeMlp = (name: string, prefix: string, dim: number, hidden: number, act: string) =>
  pick(MLP_LAYERS, 'mlp_layer', name)(prefix, dim, hidden, pick(ACT_LAYERS, 'act_layer', act));
export const makeAttention = (name: string, prefix: string, a: AttentionArgs) => pick(ATTN_LAYERS, 'attn_layer', name)(prefix, a);
