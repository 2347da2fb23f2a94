// The resolved description of one VisionTransformer: everything the module tree needs to build a graph.
// Field names are camelCase twins of timm's constructor arguments (vision_transformer.py).

export type GlobalPool = '' | 'token' | 'avg' | 'max' | 'avgmax' | 'map' | 'prr';
export type PosResampleMode = 'bilinear' | 'bicubic_aa';

export interface VitConfig {
  /** 'modern' = timm 1.0.x semantics; 'legacy' = timm 0.4.5 (seed) semantics. */
  era: 'modern' | 'legacy';
  /** timm model class (lib/models/index.ts MODEL_CLASSES): VisionTransformer, VisionTransformerDistilled (DeiT). */
  modelClass: string;
  imgSize: [number, number];
  patchSize: number;
  inChans: number;
  numClasses: number;
  embedDim: number;
  depth: number;
  numHeads: number;
  mlpRatio: number;
  qkvBias: boolean;
  /** Attention scale override (seed `qk_scale`); default head_dim^-0.5. */
  qkScale?: number;
  /** LayerNorm eps (1e-6 for timm ViTs; the seed small model 1e-5). */
  normEps: number;
  classToken: boolean;
  /** Register tokens after the class token (timm reg_tokens). */
  regTokens: number;
  /** timm pos_embed: 'learn' (a learned absolute embedding) or 'none'. */
  posEmbed: 'learn' | 'none';
  /** norm_pre after the position embedding (CLIP); it also drops the patch projection's bias, as timm does. */
  preNorm: boolean;
  /** Norm after the blocks (norm, or fc_norm after pooling); false = neither. */
  finalNorm: boolean;
  /** Biases of attn.proj and the MLP's fc1 / fc2 (timm proj_bias). */
  projBias: boolean;
  /** Norm inside attention before proj, and inside the MLP before fc2 (BEiT-3 style). */
  scaleAttnNorm: boolean;
  scaleMlpNorm: boolean;
  /** Average / max pooling over prefix tokens too. */
  poolIncludePrefix: boolean;
  /** Per-head q / k norms in attention (timm qk_norm). */
  qkNorm: boolean;
  /** A norm after the patch projection (timm embed_norm_layer, AIMv2); null = none. */
  embedNormLayer: string | null;
  embedNormEps: number;
  /** GluMlp: the activation gates the second half (timm gate_last); false = the first (SwiGLUPacked). */
  mlpGateLast: boolean;
  /** How timm's checkpoint filter loads this architecture: pos_embed resampling, and whether unexpected keys are
   *  errors (strict) or dropped. */
  load: { posResample?: PosResampleMode; strict: boolean };
  /** DeiT-III / big_vision: pos_embed covers patch tokens only, added before the prefix concat. */
  noEmbedClass: boolean;
  globalPool: GlobalPool;
  /** null = timm's default (on iff globalPool is avg/max/avgmax). */
  fcNorm: boolean | null;
  /** LayerScale init value: non-null means blocks have ls1.gamma / ls2.gamma. */
  initValues: number | null;
  dynamicImgSize: boolean;
  dynamicImgPad: boolean;
  /** Seed in21k representation layer (pre_logits.fc + tanh); null when absent. */
  representationSize: number | null;
  /** Options of other ViT families that are not implemented yet (reg tokens, pre-norm, map pooling, ...):
   *  any entry here makes createModel fail with VIT_E_UNSUPPORTED naming it. */
  unsupported: string[];
  /** Injected layers by timm name (lib/models/factories.ts, blocks.ts): act_layer ('gelu' = exact erf,
   *  'gelu_tanh'), norm_layer, mlp_layer, attn_layer, block_fn. */
  actLayer: string;
  normLayer: string;
  mlpLayer: string;
  attnLayer: string;
  blockFn: string;
  /** Hybrid CNN backbone (timm ResNetV2 / ResNet-D under HybridEmbed; lib/models/hybrid-embed.ts). */
  backbone?: Record<string, unknown>;

  // ---- eva.py's Eva only (lib/models/eva.ts; lib/registry/eva-args.ts maps its model_args). Eva's
  // scale_mlp / scale_attn_inner are scaleMlpNorm / scaleAttnNorm, num_reg_tokens regTokens, use_abs_pos_emb
  // posEmbed, use_pre_transformer_norm preNorm, use_fc_norm fcNorm. ----
  /** One qkv Linear (q_bias / v_bias beside it) vs q_proj / k_proj / v_proj. */
  qkvFused: boolean;
  /** SwiGLU MLP: packed GluMlp, or SwiGLU (fc1_g / fc1_x) with scale_mlp or swiglu_align_to. */
  swigluMlp: boolean;
  /** SwiGLU hidden size rounded up to a multiple of this (0: none). */
  swigluAlignTo: number;
  /** 'eva' (EvaAttention) or 'rope' (AttentionRope: qkv with a real k bias). */
  attnType: string;
  useRotPosEmb: boolean;
  /** lib/models/rope.ts ROPE_TYPES: 'cat', 'mixed', 'dinov3'. */
  ropeType: string;
  ropeGridOffset: number;
  ropeGridIndexing: 'ij' | 'xy';
  ropeTemperature: number;
  /** rotate_half pair layout in the rotation (DINOv3) instead of interleaved pairs. */
  ropeRotateHalf: boolean;
  /** EvaBlockPostNorm: x + norm(attn(x)). */
  usePostNorm: boolean;
  /** null = timm's rule: a final norm iff there is no fc_norm. */
  usePostTransformerNorm: boolean | null;
  attnPoolNumHeads: number | null;
  attnPoolMlpRatio: number | null;
  /** RoPE 'cat': positions scaled to this reference grid. */
  refFeatShape: [number, number] | null;
}

/** Pretrained config as timm's PretrainedCfg (snake_case, as in HF hub config.json). */
export interface PretrainedCfg {
  architecture?: string;
  tag?: string;
  hf_hub_id?: string;
  url?: string;
  num_classes: number;
  input_size: [number, number, number];
  mean: [number, number, number];
  std: [number, number, number];
  crop_pct: number;
  crop_mode?: string;
  interpolation: string;
  first_conv?: string;
  classifier?: string | string[];
  fixed_input_size?: boolean;
  label_names?: string[];
  license?: string;
  [k: string]: unknown;
}

export const defaultVitConfig: VitConfig = {
  era: 'modern',
  modelClass: 'VisionTransformer',
  imgSize: [224, 224],
  patchSize: 16,
  inChans: 3,
  numClasses: 1000,
  embedDim: 768,
  depth: 12,
  numHeads: 12,
  mlpRatio: 4,
  qkvBias: true,
  normEps: 1e-6,
  classToken: true,
  regTokens: 0,
  posEmbed: 'learn',
  preNorm: false,
  finalNorm: true,
  projBias: true,
  scaleAttnNorm: false,
  scaleMlpNorm: false,
  poolIncludePrefix: false,
  qkNorm: false,
  embedNormLayer: null,
  embedNormEps: 1e-6,
  mlpGateLast: true,
  load: { strict: true },
  noEmbedClass: false,
  globalPool: 'token',
  fcNorm: null,
  initValues: null,
  dynamicImgSize: false,
  dynamicImgPad: false,
  representationSize: null,
  actLayer: 'gelu',
  normLayer: 'layernorm',
  mlpLayer: 'Mlp',
  attnLayer: 'Attention',
  blockFn: 'Block',
  unsupported: [],
  qkvFused: true,
  swigluMlp: false,
  swigluAlignTo: 0,
  attnType: 'eva',
  useRotPosEmb: false,
  ropeType: 'cat',
  ropeGridOffset: 0,
  ropeGridIndexing: 'ij',
  ropeTemperature: 10000,
  ropeRotateHalf: false,
  usePostNorm: false,
  usePostTransformerNorm: null,
  attnPoolNumHeads: null,
  attnPoolMlpRatio: null,
  refFeatShape: null,
};
