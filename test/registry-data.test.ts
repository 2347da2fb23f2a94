// The generated registry data (lib/registry/architectures.generated.ts, pretrained-cfgs.ts, docs/timm-vocabulary.md)
// is what scripts/gen-registry.ts makes of test/fixtures/arch/timm-registry.json (scripts/dump-timm-registry.py),
// and that dump agrees with itself, with timm-state-dicts.json.gz and with the older arch fixtures.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { generate, hasWeights, loadDump, selectCfgs } from '../scripts/gen-registry.ts';
import { architectures, classDefaults, defaultTags, pretrainedCfgs, TIMM_VERSION } from '../lib/registry/architectures.generated.ts';
import { legacyDefaultCfgs, pretrainedCfgs as reexported } from '../lib/registry/pretrained-cfgs.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const { dump, seed } = loadDump(root);
type Entry = [string, number[]];
const states = JSON.parse(gunzipSync(readFileSync(`${root}/test/fixtures/arch/timm-state-dicts.json.gz`)).toString('utf8')) as
  Record<string, { state_dict: Entry[]; params: number }>;
const modern = JSON.parse(readFileSync(`${root}/test/fixtures/arch/modern-variants.json`, 'utf8')) as
  Record<string, { state_dict: Entry[]; params: number }>;

test('generated files are in sync with the JSON dump (node --import=tsx scripts/gen-registry.ts)', (t) => {
  for (const [path, text] of Object.entries(generate(dump, seed))) {
    t.true(readFileSync(`${root}/${path}`, 'utf8') === text, `${path} is stale: regenerate it`);
  }
});

test('the generated modules hold the dump', (t) => {
  t.is(TIMM_VERSION, dump.timm_version);
  t.deepEqual(Object.keys(architectures), Object.keys(dump.architectures));
  for (const [name, a] of Object.entries(dump.architectures)) {
    t.deepEqual(architectures[name], { module: a.module, cls: a.model_class, args: a.model_args, ...(a.load ? { load: a.load } : {}) }, name);
  }
  t.deepEqual(Object.keys(classDefaults).sort(), ['Eva', 'VisionTransformer', 'VisionTransformerDistilled']);
  t.is(reexported, pretrainedCfgs);
  t.deepEqual(Object.keys(legacyDefaultCfgs), Object.keys(seed));
});

test("counts per timm file (timm 1.0.29: 187 ViT/DeiT/hybrid architectures with 340 tags, eva 60 with 78)", (t) => {
  t.is(dump.timm_version, '1.0.29');
  const counted: Record<string, { architectures: number; tags: number; tags_with_weights: number }> = {};
  for (const a of Object.values(dump.architectures)) {
    const c = (counted[a.module] ??= { architectures: 0, tags: 0, tags_with_weights: 0 });
    c.architectures++;
    c.tags += Object.keys(a.pretrained_cfgs).length;
    c.tags_with_weights += Object.values(a.pretrained_cfgs).filter(hasWeights).length;
  }
  t.deepEqual(counted, dump.modules);
  const pick = (m: string) => [dump.modules[m].architectures, dump.modules[m].tags_with_weights];
  t.deepEqual(pick('vision_transformer'), [157, 302]);
  t.deepEqual(pick('deit'), [16, 24]);
  t.deepEqual(pick('vision_transformer_hybrid'), [14, 14]);
  t.deepEqual(pick('eva'), [60, 78]);
});

test('pretrained cfgs: every tag with weights, a default tag for every architecture', (t) => {
  const { cfgs } = selectCfgs(dump);
  t.is(Object.keys(pretrainedCfgs).length, Object.keys(cfgs).length);
  for (const [name, a] of Object.entries(dump.architectures)) {
    t.is(defaultTags[name], Object.keys(a.pretrained_cfgs)[0], name);
    t.truthy(pretrainedCfgs[`${name}.${defaultTags[name]}`], name);
    for (const [tag, cfg] of Object.entries(a.pretrained_cfgs)) {
      t.is(Boolean(pretrainedCfgs[`${name}.${tag}`]), hasWeights(cfg) || tag === a.default_tag, `${name}.${tag}`);
    }
    // timm prefers a tag with weights as the default
    if (Object.values(a.pretrained_cfgs).some(hasWeights)) t.true(hasWeights(a.pretrained_cfgs[a.default_tag]), name);
  }
  for (const [key, cfg] of Object.entries(pretrainedCfgs)) {
    t.is(key, `${cfg.architecture}.${cfg.tag}`);
    t.truthy(architectures[cfg.architecture!], key);
    // mostly timm/<arch>.<tag>; quickgelu variants share their twin's repo, a few live outside timm/
    if (cfg.hf_hub_id) t.regex(cfg.hf_hub_id, /^[\w.-]+\/[\w.-]+$/, key);
    else if (cfg.tag !== defaultTags[cfg.architecture!]) t.truthy(cfg.url, key);
  }
});

test('state dicts: one per architecture, the default cfg sets the head, the older arch fixture agrees', (t) => {
  t.deepEqual(Object.keys(states), Object.keys(dump.architectures));
  for (const [name, s] of Object.entries(states)) {
    const shapes = new Map(s.state_dict);
    const cfg = pretrainedCfgs[`${name}.${defaultTags[name]}`];
    for (const head of ['head.weight', 'head_dist.weight']) {
      if (head === 'head.weight' || shapes.has(head)) t.is(shapes.get(head)?.[0] ?? 0, Math.max(cfg.num_classes, 0), `${name} ${head}`);
    }
    t.true(s.params > 0);
  }
  for (const [name, m] of Object.entries(modern)) t.deepEqual(states[name], { state_dict: m.state_dict, params: m.params }, name);
});

test('model_args are timm vocabulary: layers as names, backbones as descriptions', (t) => {
  for (const [name, a] of Object.entries(architectures)) {
    for (const [k, v] of Object.entries(a.args)) {
      if (k.endsWith('_layer') || k === 'block_fn') t.is(typeof v, 'string', `${name}.${k}`);
    }
    if (a.args.embed_layer === 'HybridEmbed') t.truthy(a.args.backbone, name);
    else t.is(a.args.backbone, undefined, name);
  }
  t.deepEqual(architectures.vit_base_patch16_clip_224.args, {
    patch_size: 16, embed_dim: 768, depth: 12, num_heads: 12, pre_norm: true, norm_layer: 'layernorm', norm_eps: 1e-5,
  });
  t.is(architectures.deit_base_distilled_patch16_384.cls, 'VisionTransformerDistilled');
  t.deepEqual(architectures.vit_small_resnet50d_s16_224.args.backbone, {
    type: 'resnet', block: 'bottleneck', layers: [3, 4, 6], stem_width: 32, stem_type: 'deep', avg_down: true,
    channels: [64, 128, 256], out_index: 3,
  });
  t.deepEqual(architectures.vit_tiny_r_s16_p8_224.args.backbone, {
    type: 'resnetv2', layers: [], channels: [], stem_chs: 64, stem_type: 'same', preact: false, conv: 'std_conv2d_same',
    norm: 'group_norm', num_groups: 32,
  });
  t.is(architectures.vit_base_r50_s16_384.args.patch_size, 1);
  t.deepEqual(architectures.flexivit_small.load, { filter: 'vision_transformer', filter_args: { interpolation: 'bilinear', antialias: false } });
});
