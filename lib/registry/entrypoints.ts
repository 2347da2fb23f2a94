// Tiny entrypoints: registry name -> the VitConfig arguments its timm @register_model function passes.
// Modern = timm 1.0.x (vision_transformer.py, deit.py, vision_transformer_hybrid.py); legacy = timm 0.4.5
// (vision_transformer.py@v0.4.5, spec §1.3). Image size and class count come from the pretrained cfg at resolve
// time; `imgSize` here is the name's resolution, used when a name has no cfg.
import type { VitConfig } from '../models/config.ts';

export type EntryArgs = Partial<VitConfig>;
export interface EntryOptions {
  /** timm's `pretrained=True` (or a checkpoint is being loaded); only the seed vit_small_patch16_224 depends on it. */
  pretrained: boolean;
}
export type Entrypoint = (opts: EntryOptions) => EntryArgs;

const sq = (s: number): [number, number] => [s, s];

function vit(patchSize: number, embedDim: number, depth: number, numHeads: number, img: number, extra: EntryArgs = {}): Entrypoint {
  return () => ({ patchSize, embedDim, depth, numHeads, imgSize: sq(img), ...extra });
}

// ---- hybrid backbones (built by lib/models/hybrid-embed.ts) ----
/** timm ResNetV2 (non-preact, 'same' stem, StdConv2dSame, GroupNorm 32). layers [] = stem only. */
function resnetv2(layers: number[]): Record<string, unknown> {
  return {
    type: 'resnetv2', layers, channels: [256, 512, 1024, 2048].slice(0, layers.length), stem_chs: 64,
    stem_type: 'same', preact: false, conv: 'std_conv2d_same', norm: 'group_norm', num_groups: 32,
  };
}
/** timm ResNet-D (deep stem, avg-pool downsample, BatchNorm) cut at `out_index` (features_only). */
function resnetd(layers: number[], outIndex: number): Record<string, unknown> {
  return {
    type: 'resnet', block: 'bottleneck', layers: layers.slice(0, outIndex), stem_width: 32, stem_type: 'deep',
    avg_down: true, channels: [64, 128, 256, 512].slice(0, outIndex), out_index: outIndex,
  };
}
const R26 = [2, 2, 2, 2];
const R50 = [3, 4, 6, 3];

function hybrid(backbone: Record<string, unknown>, patchSize: number, embedDim: number, depth: number, numHeads: number, img: number, extra: EntryArgs = {}): Entrypoint {
  return () => ({ patchSize, embedDim, depth, numHeads, imgSize: sq(img), backbone, ...extra });
}

const deit3 = { noEmbedClass: true, initValues: 1e-6 };
const dist = { distilled: true };

export const modernEntrypoints: Record<string, Entrypoint> = {
  // deit.py
  deit_tiny_patch16_224: vit(16, 192, 12, 3, 224),
  deit_small_patch16_224: vit(16, 384, 12, 6, 224),
  deit_base_patch16_224: vit(16, 768, 12, 12, 224),
  deit_base_patch16_384: vit(16, 768, 12, 12, 384),
  deit_tiny_distilled_patch16_224: vit(16, 192, 12, 3, 224, dist),
  deit_small_distilled_patch16_224: vit(16, 384, 12, 6, 224, dist),
  deit_base_distilled_patch16_224: vit(16, 768, 12, 12, 224, dist),
  deit_base_distilled_patch16_384: vit(16, 768, 12, 12, 384, dist),
  deit3_small_patch16_224: vit(16, 384, 12, 6, 224, deit3),
  deit3_base_patch16_224: vit(16, 768, 12, 12, 224, deit3),
  // vision_transformer.py
  vit_tiny_patch16_224: vit(16, 192, 12, 3, 224),
  vit_tiny_patch16_384: vit(16, 192, 12, 3, 384),
  vit_small_patch32_224: vit(32, 384, 12, 6, 224),
  vit_small_patch16_224: vit(16, 384, 12, 6, 224),
  vit_small_patch16_384: vit(16, 384, 12, 6, 384),
  vit_base_patch32_224: vit(32, 768, 12, 12, 224),
  vit_base_patch32_384: vit(32, 768, 12, 12, 384),
  vit_base_patch16_224: vit(16, 768, 12, 12, 224),
  vit_base_patch16_384: vit(16, 768, 12, 12, 384),
  vit_base_patch8_224: vit(8, 768, 12, 12, 224),
  vit_large_patch32_224: vit(32, 1024, 24, 16, 224),
  vit_large_patch32_384: vit(32, 1024, 24, 16, 384),
  vit_large_patch16_224: vit(16, 1024, 24, 16, 224),
  vit_large_patch16_384: vit(16, 1024, 24, 16, 384),
  vit_huge_patch14_224: vit(14, 1280, 32, 16, 224),
  // DINOv2 without registers is a plain ViT with LayerScale at 518 px.
  vit_small_patch14_dinov2: vit(14, 384, 12, 6, 518, { initValues: 1e-5 }),
  vit_base_patch14_dinov2: vit(14, 768, 12, 12, 518, { initValues: 1e-5 }),
  // Families whose options are not implemented yet: resolvable, but never buildable until they are.
  vit_small_patch14_reg4_dinov2: vit(14, 384, 12, 6, 518, { initValues: 1e-5, noEmbedClass: true, unsupported: ['reg_tokens=4'] }),
  vit_base_patch14_reg4_dinov2: vit(14, 768, 12, 12, 518, { initValues: 1e-5, noEmbedClass: true, unsupported: ['reg_tokens=4'] }),
  vit_base_patch16_clip_224: vit(16, 768, 12, 12, 224, { normEps: 1e-5, unsupported: ['pre_norm'] }),
  vit_base_patch32_clip_224: vit(32, 768, 12, 12, 224, { normEps: 1e-5, unsupported: ['pre_norm'] }),
  vit_base_patch16_siglip_224: vit(16, 768, 12, 12, 224, { classToken: false, globalPool: '', unsupported: ['global_pool=map'] }),
  // vision_transformer_hybrid.py
  vit_tiny_r_s16_p8_224: hybrid(resnetv2([]), 8, 192, 12, 3, 224),
  vit_small_r26_s32_224: hybrid(resnetv2(R26), 1, 384, 12, 6, 224),
  vit_base_r50_s16_224: hybrid(resnetv2([3, 4, 9]), 1, 768, 12, 12, 224),
  vit_base_r50_s16_384: hybrid(resnetv2([3, 4, 9]), 1, 768, 12, 12, 384),
  vit_large_r50_s32_224: hybrid(resnetv2(R50), 1, 1024, 24, 16, 224),
  vit_small_resnet26d_224: hybrid(resnetd(R26, 4), 1, 768, 8, 8, 224, { mlpRatio: 3 }),
  vit_small_resnet50d_s16_224: hybrid(resnetd(R50, 3), 1, 768, 8, 8, 224, { mlpRatio: 3 }),
  vit_base_resnet26d_224: hybrid(resnetd(R26, 4), 1, 768, 12, 12, 224),
  vit_base_resnet50d_224: hybrid(resnetd(R50, 4), 1, 768, 12, 12, 224),
};

// ---- timm 0.4.5 (seed): LayerNorm eps 1e-6 unless noted, class-token pooling, no fc_norm ----
const in21k = (d: number): EntryArgs => ({ representationSize: d });

/** Seed vit_small_patch16_224 (`vision_transformer.py@v0.4.5:490-499`): its entrypoint sets qk_scale = 768^-0.5
 *  (1/sqrt(embed_dim), not 1/sqrt(head_dim)) only when pretrained=True, the scale its weights were trained with. */
const seedSmall: Entrypoint = ({ pretrained }) => ({
  patchSize: 16, embedDim: 768, depth: 8, numHeads: 8, mlpRatio: 3, qkvBias: false, normEps: 1e-5, imgSize: sq(224),
  ...(pretrained ? { qkScale: 768 ** -0.5 } : {}),
});

export const legacyEntrypoints: Record<string, Entrypoint> = {
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
  vit_small_resnet26d_224: hybrid(resnetd(R26, 4), 1, 768, 8, 8, 224, { mlpRatio: 3 }),
  vit_small_resnet50d_s3_224: hybrid(resnetd(R50, 3), 1, 768, 8, 8, 224, { mlpRatio: 3 }),
  vit_base_resnet26d_224: hybrid(resnetd(R26, 4), 1, 768, 12, 12, 224),
  vit_base_resnet50d_224: hybrid(resnetd(R50, 4), 1, 768, 12, 12, 224),
  vit_deit_tiny_patch16_224: vit(16, 192, 12, 3, 224),
  vit_deit_small_patch16_224: vit(16, 384, 12, 6, 224),
  vit_deit_base_patch16_224: vit(16, 768, 12, 12, 224),
  vit_deit_base_patch16_384: vit(16, 768, 12, 12, 384),
  vit_deit_tiny_distilled_patch16_224: vit(16, 192, 12, 3, 224, dist),
  vit_deit_small_distilled_patch16_224: vit(16, 384, 12, 6, 224, dist),
  vit_deit_base_distilled_patch16_224: vit(16, 768, 12, 12, 224, dist),
  vit_deit_base_distilled_patch16_384: vit(16, 768, 12, 12, 384, dist),
};
