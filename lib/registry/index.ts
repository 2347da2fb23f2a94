// The model registry: names -> VitConfig + pretrained cfg (timm's create_model / list_models / get_pretrained_cfg).
// Data lives in pretrained-cfgs.ts (generated), entrypoints in entrypoints.ts, name rules in lookup.ts.
import type { PretrainedCfg } from '../models/config.ts';
import { buildConfig } from './build-config.ts';
import { LEGACY_PREFIX, allNames, lookup, tagsOf } from './lookup.ts';
import { fnmatchToRegExp } from './names.ts';
import { overridesToModelArgs } from './overrides.ts';
import type { ResolvedModel, ResolveOverrides } from './types.ts';

export type { ResolvedModel, ResolveOverrides } from './types.ts';
export type { RegistryError, RegistryErrorCode, RegistryErrorDetails } from './errors.ts';
export { resolveConfig, type HfConfig } from './hf-config.ts';
export { expectedStateDict, checkSupported, countParams, type StateDictEntry } from './state-dict.ts';
export { usesFcNorm } from '../models/vision-transformer.ts';

/**
 * Resolve 'arch', 'arch.tag' or 'legacy:arch' (plus overrides, timm create_model kwargs in camelCase) to a
 * VitConfig and the pretrained cfg of the chosen tag. The config may list `unsupported` options (families not
 * implemented yet): building it must fail (see checkSupported).
 * `pretrained` mirrors timm's pretrained=True; it only changes the seed vit_small_patch16_224 (qk_scale 768^-0.5).
 */
export function resolveModel(name: string, overrides: ResolveOverrides = {}): ResolvedModel {
  const { pretrained = false, ...rest } = overrides;
  const modelArgs = overridesToModelArgs(rest);
  const look = lookup(name);
  const config = buildConfig({ look, pretrainedCfg: look.cfg, modelArgs, pretrained });
  return { name: look.name, tag: look.tag, config, pretrainedCfg: look.cfg };
}

/** The pretrained cfg of 'arch' (default tag), 'arch.tag' or 'legacy:arch' (the seed default_cfg). */
export function getPretrainedCfg(name: string): PretrainedCfg {
  return lookup(name).cfg;
}

export interface ListOptions {
  /** List modern names as 'arch.tag', one per pretrained tag (timm's include_tags). */
  includeTags?: boolean;
}

/**
 * fnmatch-style listing, like timm.list_models(filter). Patterns starting with 'legacy:' search the 28 seed
 * (timm 0.4.5) names as 'legacy:<name>'; any other pattern searches the bare names: every modern name plus the
 * seed names modern timm no longer has (vit_deit_*, *_in21k, ...), which resolve to their legacy definition.
 * No pattern = '*'. Sorted naturally (as timm: 'patch8' < 'patch16'), without duplicates.
 */
export function listModels(pattern: string | string[] = '*', options: ListOptions = {}): string[] {
  const patterns = Array.isArray(pattern) ? pattern : [pattern];
  const names = allNames();
  const found = new Set<string>();
  for (const p of patterns) {
    const re = fnmatchToRegExp(p);
    const legacy = p.startsWith(LEGACY_PREFIX);
    for (const n of names) {
      if (n.startsWith(LEGACY_PREFIX) !== legacy) continue;
      const tags = options.includeTags && !legacy ? tagsOf(n) : [];
      if (!tags.length) {
        if (re.test(n)) found.add(n);
        continue;
      }
      for (const t of tags) {
        // timm expands a tag-less filter to also match 'arch.*'
        if (re.test(`${n}.${t}`) || (!p.includes('.') && re.test(n))) found.add(`${n}.${t}`);
      }
    }
  }
  return [...found].sort(naturalCompare);
}

function naturalCompare(a: string, b: string): number {
  const split = (s: string) => s.split(/(\d+)/).map((x, i) => (i % 2 ? Number(x) : x));
  const [x, y] = [split(a), split(b)];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
  }
  return x.length - y.length;
}
