// What the model API (lib/model.ts), the loaders and the CLI need from a model class: one interface, one class per
// timm model class (lib/models/index.ts), so nothing outside lib/models names VisionTransformer.
import type { GraphBuilder, Sym } from '../graph/builder.ts';
import type { VitConfig } from './config.ts';
import type { Linear } from './layers.ts';
import type { Param, ParamSpec } from './params.ts';
import type { TokenLayout } from './token-layout.ts';
import type { CheckpointTensor } from '../weights/checkpoint-tensor.ts';

/**
 * The whole-dict part of a class's checkpoint filter (timm checkpoint_filter_fn where it must see several keys or
 * transform tensors: detect an original layout, split or transpose tensors). Runs after the container prefixes
 * are unwrapped, before filterKey. Returns the converted tensors and the keys it dropped.
 */
export type CheckpointConverter = (sd: Map<string, CheckpointTensor>) => { tensors: Map<string, CheckpointTensor>; dropped: string[] };

export interface IntermediatesSpec {
  /** Absolute block indices. */
  indices: number[];
  norm: boolean;
  outputFmt: 'NCHW' | 'NLC';
  /** timm stop_early: run the blocks up to the last index only (features then come from that block). */
  stopEarly?: boolean;
}

export interface PatchEmbedModule {
  readonly gridSize: [number, number];
  /** Token grid for an h x w input. */
  dynamicFeatSize(h: number, w: number): [number, number];
  /** The first conv's state_dict prefix (timm pretrained_cfg first_conv): where in_chans adaptation applies. */
  readonly firstConv: string;
}

export interface ModelModule {
  readonly cfg: VitConfig;
  readonly tokens: TokenLayout;
  readonly patchEmbed: PatchEmbedModule;
  readonly embedDim: number;
  readonly numFeatures: number;
  readonly depth: number;
  /** Input pixels per token (timm feature_info reduction). */
  readonly reduction: number;
  /** Classifier Linears (timm get_classifier): head, and head_dist for distilled models. */
  readonly classifiers: Linear[];
  /** Tokens the head reads when it reads only prefix tokens, else null (see VisionTransformer.headTokens). */
  readonly headTokens: number | null;
  /** Sequence length of forward_features for the configured image size. */
  readonly seqLen: number;
  /** Every parameter in timm's state_dict order, with its initialisation. */
  parameters(): ParamSpec[];
  /** timm's state_dict keys and shapes. */
  params(): Param[];
  /** The class's part of timm's checkpoint_filter_fn for one key: the key as this model names it, or null to drop. */
  filterKey(key: string): string | null;
  /** timm reset_classifier: the config of the same trunk with a new head (and optionally another pool). */
  resetClassifierConfig(numClasses: number, globalPool?: VitConfig['globalPool']): VitConfig;
  /** Optional whole-dict conversion before filterKey (see CheckpointConverter). */
  readonly convertCheckpoint?: CheckpointConverter;
  buildFeatures(g: GraphBuilder, x: Sym, inter?: IntermediatesSpec, keepTokens?: number): { features: Sym; intermediates: Sym[] };
  buildHead(g: GraphBuilder, features: Sym): { preLogits: Sym; logits: Sym };
}
