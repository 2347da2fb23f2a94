// Generates lib/registry/pretrained-cfgs.ts (data only) from the timm-produced arch fixtures.
//   node --import=tsx scripts/gen-pretrained-cfgs.ts
// Sources: test/fixtures/arch/{modern,seed}-variants.json (copied from shared/fixtures/arch, produced by timm).
// The fixtures list each modern name's tags alphabetically and their `default_tag` is the alphabetically first
// tag, which is not timm's default for several names (e.g. vit_tiny_patch16_224: timm's default is
// augreg_in21k_ft_in1k, the fixture says augreg_in21k, yet the fixture's own state_dict has the 1000-class head of
// the former). timm's default is the first tag with weights in `default_cfgs` declaration order
// (timm/models/_registry.py); DEFAULT_TAGS below records it from timm's vision_transformer.py /
// vision_transformer_hybrid.py / deit.py, and this script checks it against every state_dict's head shape.
import { readFileSync, writeFileSync } from 'node:fs';

type Cfg = Record<string, unknown> & { num_classes: number };
interface ModernEntry { state_dict: [string, number[]][]; pretrained_cfgs: Record<string, Cfg>; default_tag: string | null }
interface SeedEntry { default_cfg: Cfg }

const modern = JSON.parse(readFileSync('test/fixtures/arch/modern-variants.json', 'utf8')) as Record<string, ModernEntry>;
const seed = JSON.parse(readFileSync('test/fixtures/arch/seed-variants.json', 'utf8')) as Record<string, SeedEntry>;

// timm's default tag where it differs from the fixture's alphabetical `default_tag`.
const DEFAULT_TAGS: Record<string, string> = {
  vit_tiny_patch16_224: 'augreg_in21k_ft_in1k',
  vit_small_patch32_224: 'augreg_in21k_ft_in1k',
  vit_small_patch16_224: 'augreg_in21k_ft_in1k',
  vit_small_patch16_384: 'augreg_in21k_ft_in1k',
  vit_base_patch32_224: 'augreg_in21k_ft_in1k',
  vit_base_patch32_384: 'augreg_in21k_ft_in1k',
  vit_base_patch16_384: 'augreg_in21k_ft_in1k',
  vit_large_patch16_224: 'augreg_in21k_ft_in1k',
  vit_huge_patch14_224: 'orig_in21k',
  vit_tiny_r_s16_p8_224: 'augreg_in21k_ft_in1k',
  vit_small_r26_s32_224: 'augreg_in21k_ft_in1k',
  vit_large_r50_s32_224: 'augreg_in21k_ft_in1k',
  vit_base_patch16_clip_224: 'laion2b_ft_in12k_in1k',
  vit_base_patch32_clip_224: 'laion2b_ft_in12k_in1k',
};

const INCEPTION = [0.5, 0.5, 0.5];
const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];

// Modern names timm has that the fixture does not list (cfgs transcribed from timm's default_cfgs).
const EXTRA_MODERN: Record<string, Record<string, Cfg>> = {
  vit_large_patch32_224: {
    orig_in21k: {
      hf_hub_id: 'timm/vit_large_patch32_224.orig_in21k', num_classes: 0, input_size: [3, 224, 224],
      mean: INCEPTION, std: INCEPTION, crop_pct: 0.9, crop_mode: 'center', interpolation: 'bicubic',
      license: 'apache-2.0', first_conv: 'patch_embed.proj', classifier: 'head', fixed_input_size: true,
    },
  },
};
// Custom ResNet-D hybrids: timm registers them with an `untrained` tag only (no weights).
for (const name of ['vit_small_resnet26d_224', 'vit_small_resnet50d_s16_224', 'vit_base_resnet26d_224', 'vit_base_resnet50d_224']) {
  EXTRA_MODERN[name] = {
    untrained: {
      num_classes: 1000, input_size: [3, 224, 224], mean: IMAGENET_MEAN, std: IMAGENET_STD, crop_pct: 0.9,
      crop_mode: 'center', interpolation: 'bicubic', first_conv: 'patch_embed.backbone.conv1.0', classifier: 'head',
      fixed_input_size: true,
    },
  };
}

const cfgs: Record<string, Cfg> = {};
const defaultTags: Record<string, string> = {};
for (const [name, entry] of Object.entries(modern)) {
  const tagged = Object.keys(entry.pretrained_cfgs).length ? entry.pretrained_cfgs : prefix(name, EXTRA_MODERN[name]);
  if (!Object.keys(tagged).length) throw new Error(`${name}: no pretrained cfgs`);
  for (const [key, cfg] of Object.entries(tagged)) {
    const tag = key.slice(name.length + 1);
    cfgs[key] = { architecture: name, tag, ...cfg };
  }
  const tag = DEFAULT_TAGS[name] ?? entry.default_tag?.slice(name.length + 1) ?? Object.keys(tagged)[0].slice(name.length + 1);
  const dflt = cfgs[`${name}.${tag}`];
  if (!dflt) throw new Error(`${name}: default tag ${tag} not among its cfgs`);
  // timm builds the default model with the default cfg's num_classes: the fixture's head must agree.
  const head = entry.state_dict.find(([k]) => k === 'head.weight');
  if ((head ? head[1][0] : 0) !== dflt.num_classes) {
    throw new Error(`${name}: default tag ${tag} has ${dflt.num_classes} classes, state_dict head ${head?.[1][0]}`);
  }
  defaultTags[name] = tag;
}
for (const [name, byTag] of Object.entries(EXTRA_MODERN)) {
  if (modern[name]) continue;
  Object.assign(cfgs, Object.fromEntries(Object.entries(byTag).map(([tag, c]) => [`${name}.${tag}`, { architecture: name, tag, ...c }])));
  defaultTags[name] = Object.keys(byTag)[0];
}

const legacy: Record<string, Cfg> = {};
for (const [name, entry] of Object.entries(seed)) legacy[name] = { architecture: `legacy:${name}`, ...entry.default_cfg };

/** One entry per line: diffs stay readable. */
function table(rec: Record<string, unknown>): string {
  return `{\n${Object.entries(rec).map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)},`).join('\n')}\n}`;
}

function prefix(name: string, byTag: Record<string, Cfg> | undefined): Record<string, Cfg> {
  return Object.fromEntries(Object.entries(byTag ?? {}).map(([t, c]) => [`${name}.${t}`, c]));
}

const out = `// GENERATED by scripts/gen-pretrained-cfgs.ts from test/fixtures/arch/*.json (produced by timm). Do not edit.
// Data only: pretrained configs keyed \`arch.tag\` (timm 1.0.x), each arch's default tag (timm's first cfg with
// weights), and the seed-era (timm 0.4.5) default_cfg of each \`legacy:\` name.
import type { PretrainedCfg } from '../models/config.ts';

export const pretrainedCfgs: Record<string, PretrainedCfg> = ${table(cfgs)};

export const defaultTags: Record<string, string> = ${table(defaultTags)};

export const legacyDefaultCfgs: Record<string, PretrainedCfg> = ${table(legacy)};
`;
writeFileSync('lib/registry/pretrained-cfgs.ts', out);
console.log(`wrote ${Object.keys(cfgs).length} modern cfgs, ${Object.keys(defaultTags).length} archs, ${Object.keys(legacy).length} legacy cfgs`);
