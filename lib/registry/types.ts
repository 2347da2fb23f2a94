import type { PretrainedCfg, VitConfig } from '../models/config.ts';

export interface ResolvedModel {
  /** Canonical name: the modern arch ('vit_base_patch16_224') or 'legacy:<seed name>'. */
  name: string;
  /** Pretrained tag of a modern name; null for legacy names. */
  tag: string | null;
  config: VitConfig;
  pretrainedCfg: PretrainedCfg;
}

/** createModel's model options (lib/registry/overrides.ts maps each to its timm kwarg). */
export interface ResolveOverrides {
  numClasses?: number;
  imgSize?: number | [number, number];
  inChans?: number;
  globalPool?: VitConfig['globalPool'];
  dynamicImgSize?: boolean;
  dynamicImgPad?: boolean;
  actLayer?: string;
  /** timm's `pretrained=True`; pass true when a checkpoint will be loaded (decides the seed small model's qk_scale). */
  pretrained?: boolean;
}
