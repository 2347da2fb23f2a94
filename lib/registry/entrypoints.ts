// Architectures as data: registry name -> timm model class + the model_args its timm @register_model function
// passes, in timm's snake_case vocabulary (resolved by model-args.ts, like a config.json's model_args).
// Modern = timm 1.0.x, generated from timm (architectures.generated.ts); legacy = timm 0.4.5
// (vision_transformer.py@v0.4.5, spec §1.3), written here. Image size and class count come from the pretrained cfg
// at resolve time; `img_size` here is the name's resolution, used when a name has no cfg.
import { architectures, type TimmArchitecture } from './architectures.generated.ts';

export interface ArchDef {
  /** timm model class (lib/models/index.ts MODEL_CLASSES; a class vitnode lacks resolves as unsupported). */
  cls: string;
  args: Record<string, unknown>;
  /** How timm loads its checkpoints (filter kwargs, strictness). */
  load?: TimmArchitecture['load'];
  /** Extra args when timm's `pretrained=True` (or a checkpoint is loaded): only the seed vit_small_patch16_224. */
  pretrainedArgs?: Record<string, unknown>;
}

type Args = Record<string, unknown>;

function vit(patch_size: number, embed_dim: number, depth: number, num_heads: number, img_size: number, extra: Args = {}): ArchDef {
  return { cls: 'VisionTransformer', args: { patch_size, embed_dim, depth, num_heads, img_size, ...extra } };
}
function distilled(patch_size: number, embed_dim: number, depth: number, num_heads: number, img_size: number): ArchDef {
  return { ...vit(patch_size, embed_dim, depth, num_heads, img_size), cls: 'VisionTransformerDistilled' };
}

// ---- hybrid backbones (built by lib/models/hybrid-embed.ts) ----
/** timm ResNetV2 (non-preact, 'same' stem, StdConv2dSame, GroupNorm 32). layers [] = stem only. */
function resnetv2(layers: number[]): Args {
  return {
    type: 'resnetv2', layers, channels: [256, 512, 1024, 2048].slice(0, layers.length), stem_chs: 64,
    stem_type: 'same', preact: false, conv: 'std_conv2d_same', norm: 'group_norm', num_groups: 32,
  };
}
/** timm ResNet-D (deep stem, avg-pool downsample, BatchNorm) cut at `out_index` (features_only). */
function resnetd(layers: number[], outIndex: number): Args {
  return {
    type: 'resnet', block: 'bottleneck', layers: layers.slice(0, outIndex), stem_width: 32, stem_type: 'deep',
    avg_down: true, channels: [64, 128, 256, 512].slice(0, outIndex), out_index: outIndex,
  };
}
const R26 = [2, 2, 2, 2];
const R50 = [3, 4, 6, 3];

function hybrid(backbone: Args, patch_size: number, embed_dim: number, depth: number, num_heads: number, img_size: number, extra: Args = {}): ArchDef {
  return vit(patch_size, embed_dim, depth, num_heads, img_size, { backbone, ...extra });
}

/** timm 1.0.x: every architecture of vision_transformer.py, deit.py, vision_transformer_hybrid.py and eva.py, as
 *  generated from timm (architectures.generated.ts). */
export const modernArchs: Record<string, ArchDef> = Object.fromEntries(
  Object.entries(architectures).map(([name, a]) => [name, { cls: a.cls, args: a.args, load: a.load }]),
);

// ---- timm 0.4.5 (seed): LayerNorm eps 1e-6 unless noted, class-token pooling, no fc_norm ----
const in21k = (d: number): Args => ({ representation_size: d });

/** Seed vit_small_patch16_224 (`vision_transformer.py@v0.4.5:490-499`): its entrypoint sets qk_scale = 768^-0.5
 *  (1/sqrt(embed_dim), not 1/sqrt(head_dim)) only when pretrained=True, the scale its weights were trained with. */
const seedSmall: ArchDef = {
  ...vit(16, 768, 8, 8, 224, { mlp_ratio: 3, qkv_bias: false, norm_eps: 1e-5 }),
  pretrainedArgs: { qk_scale: 768 ** -0.5 },
};

export const legacyArchs: Record<string, ArchDef> = {
  vit_small_patch16_224: seedSmall,
  vit_base_patch16_224: vit(16, 768, 12, 12, 224),
  vit_base_patch32_224: vit(32, 768, 12, 12, 224),
  vit_base_patch16_384: vit(16, 768, 12, 12, 384),
  vit_base_patch32_384: vit(32, 768, 12, 12, 384),
  vit_large_patch16_224: vit(16, 1024, 24, 16, 224),
  vit_large_patch32_224: vit(32, 1024, 24, 16, 224),
  vit_large_patch16_384: vit(16, 1024, 24, 16, 384),
  vit_large_patch32_384: vit(32, 1024, 24, 16, 384),
  vit_base_patch16_224_in21k: vit(16, 768, 12, 12, 224, in21k(768)),
  vit_base_patch32_224_in21k: vit(32, 768, 12, 12, 224, in21k(768)),
  vit_large_patch16_224_in21k: vit(16, 1024, 24, 16, 224, in21k(1024)),
  vit_large_patch32_224_in21k: vit(32, 1024, 24, 16, 224, in21k(1024)),
  vit_huge_patch14_224_in21k: vit(14, 1280, 32, 16, 224, in21k(1280)),
  // Seed HybridEmbed ignores patch_size: its projection is always a 1x1 conv.
  vit_base_resnet50_224_in21k: hybrid(resnetv2([3, 4, 9]), 1, 768, 12, 12, 224, in21k(768)),
  vit_base_resnet50_384: hybrid(resnetv2([3, 4, 9]), 1, 768, 12, 12, 384),
  vit_small_resnet26d_224: hybrid(resnetd(R26, 4), 1, 768, 8, 8, 224, { mlp_ratio: 3 }),
  vit_small_resnet50d_s3_224: hybrid(resnetd(R50, 3), 1, 768, 8, 8, 224, { mlp_ratio: 3 }),
  vit_base_resnet26d_224: hybrid(resnetd(R26, 4), 1, 768, 12, 12, 224),
  vit_base_resnet50d_224: hybrid(resnetd(R50, 4), 1, 768, 12, 12, 224),
  vit_deit_tiny_patch16_224: vit(16, 192, 12, 3, 224),
  vit_deit_small_patch16_224: vit(16, 384, 12, 6, 224),
  vit_deit_base_patch16_224: vit(16, 768, 12, 12, 224),
  vit_deit_base_patch16_384: vit(16, 768, 12, 12, 384),
  vit_deit_tiny_distilled_patch16_224: distilled(16, 192, 12, 3, 224),
  vit_deit_small_distilled_patch16_224: distilled(16, 384, 12, 6, 224),
  vit_deit_base_distilled_patch16_224: distilled(16, 768, 12, 12, 224),
  vit_deit_base_distilled_patch16_384: distilled(16, 768, 12, 12, 384),
};
