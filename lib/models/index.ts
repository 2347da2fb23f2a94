// timm model classes by name: the registry names one per architecture (config.modelClass).
import type { VitConfig } from './config.ts';
import type { ModelModule } from './model-module.ts';
import { Eva } from './eva.ts';
import { VisionTransformerDistilled } from './vision-transformer-distilled.ts';
import { VisionTransformer } from './vision-transformer.ts';

export type { ModelModule, IntermediatesSpec, PatchEmbedModule, CheckpointConverter } from './model-module.ts';

export const MODEL_CLASSES: Record<string, (cfg: VitConfig) => ModelModule> = {
  VisionTransformer: (cfg) => new VisionTransformer(cfg),
  VisionTransformerDistilled: (cfg) => new VisionTransformerDistilled(cfg),
  Eva: (cfg) => new Eva(cfg),
};

export function createModelModule(cfg: VitConfig): ModelModule {
  if (!Object.hasOwn(MODEL_CLASSES, cfg.modelClass)) throw new Error(`model class '${cfg.modelClass}' is not built`);
  return MODEL_CLASSES[cfg.modelClass](cfg);
}
