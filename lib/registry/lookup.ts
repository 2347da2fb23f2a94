// Name resolution: 'arch', 'arch.tag' or 'legacy:arch' -> entrypoint + pretrained cfg.
//  - 'legacy:<seed name>' is always the timm 0.4.5 definition.
//  - A bare name that modern timm has resolves to the modern definition; a bare seed name that modern timm no
//    longer has (vit_deit_*, *_in21k, vit_base_resnet50_384, ...) resolves to its legacy definition.
//  - Tags exist for modern names only; the default tag is timm's (first cfg with weights).
import type { PretrainedCfg } from '../models/config.ts';
import { legacyArchs, modernArchs, type ArchDef } from './entrypoints.ts';
import { registryError } from './errors.ts';
import { closestNames } from './names.ts';
import { deprecatedNames } from './architectures.generated.ts';
import { defaultTags, legacyDefaultCfgs, pretrainedCfgs } from './pretrained-cfgs.ts';

export const LEGACY_PREFIX = 'legacy:';

export interface Lookup {
  era: 'modern' | 'legacy';
  /** Canonical name: the modern arch, or 'legacy:<seed name>'. */
  name: string;
  /** Modern tag ('augreg_in21k_ft_in1k', ...); null for legacy names (timm 0.4.5 had no tags). */
  tag: string | null;
  /** The architecture's model class and entrypoint model_args. */
  arch: ArchDef;
  /** A fresh copy, safe to modify. */
  cfg: PretrainedCfg;
}

const has = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

/** Every name `lookup` accepts without a tag: modern archs, bare seed-only names, and `legacy:` names. */
export function allNames(): string[] {
  const bareLegacy = Object.keys(legacyArchs).filter((n) => !has(modernArchs, n));
  return [...Object.keys(modernArchs), ...bareLegacy, ...Object.keys(legacyArchs).map((n) => LEGACY_PREFIX + n)];
}

export function tagsOf(arch: string): string[] {
  return Object.keys(pretrainedCfgs).filter((k) => k.startsWith(`${arch}.`)).map((k) => k.slice(arch.length + 1));
}

function unknown(name: string, candidates: Iterable<string>, what = 'model'): never {
  const suggestions = closestNames(name, candidates);
  const hint = suggestions.length ? ` Did you mean: ${suggestions.join(', ')}?` : '';
  throw registryError('VIT_E_UNKNOWN_MODEL', `Unknown ${what} '${name}'.${hint}`, { suggestions });
}

const copyCfg = (c: PretrainedCfg): PretrainedCfg => structuredClone(c);

export function lookup(name: string): Lookup {
  if (typeof name !== 'string' || !name) throw registryError('VIT_E_ARGUMENT', 'model name must be a non-empty string');
  if (name.startsWith(LEGACY_PREFIX)) {
    const arch = name.slice(LEGACY_PREFIX.length);
    if (!has(legacyArchs, arch)) unknown(name, allNames());
    return legacy(arch);
  }
  const dot = name.indexOf('.');
  const arch = dot < 0 ? name : name.slice(0, dot);
  if (has(modernArchs, arch)) {
    const tag = dot < 0 ? defaultTags[arch] : name.slice(dot + 1);
    const cfg = pretrainedCfgs[`${arch}.${tag}`];
    if (!cfg) unknown(name, tagsOf(arch).map((t) => `${arch}.${t}`), 'pretrained tag');
    return { era: 'modern', name: arch, tag, arch: modernArchs[arch], cfg: copyCfg(cfg) };
  }
  if (dot < 0 && has(legacyArchs, arch)) return legacy(arch);
  // timm's deprecated names ('vit_small_patch16_224_dino' -> 'vit_small_patch16_224.dino'); the seed's bare names
  // above keep their timm 0.4.5 definition. A target whose tag timm no longer has stays unknown.
  if (dot < 0 && has(deprecatedNames, arch)) {
    const target = deprecatedNames[arch];
    if (pretrainedCfgs[target]) return lookup(target);
  }
  if (dot >= 0 && has(legacyArchs, arch)) {
    throw registryError('VIT_E_UNKNOWN_MODEL', `'${arch}' is a timm 0.4.5 (legacy) name, which has no pretrained tags; use '${arch}'.`, { suggestions: [arch] });
  }
  return unknown(name, allNames());
}

function legacy(arch: string): Lookup {
  return { era: 'legacy', name: LEGACY_PREFIX + arch, tag: null, arch: legacyArchs[arch], cfg: copyCfg(legacyDefaultCfgs[arch]) };
}
