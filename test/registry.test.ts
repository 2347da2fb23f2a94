import test from 'ava';
import { readFileSync } from 'node:fs';
import {
  checkSupported, countParams, expectedStateDict, getPretrainedCfg, listModels, resolveConfig, resolveModel,
  type HfConfig,
} from '../lib/registry/index.ts';

type Entry = [string, number[]];
interface Modern { state_dict: Entry[]; params: number; pretrained_cfgs: Record<string, Record<string, unknown>>; default_tag: string | null }
interface Seed { state_dict: Entry[]; params: number; default_cfg: Record<string, unknown> }
const load = <T>(f: string): Record<string, T> => JSON.parse(readFileSync(new URL(`./fixtures/arch/${f}`, import.meta.url), 'utf8'));
const modern = load<Modern>('modern-variants.json');
const seed = load<Seed>('seed-variants.json');

const cases: [string, Entry[], number][] = [
  ...Object.entries(modern).map(([n, v]): [string, Entry[], number] => [n, v.state_dict, v.params]),
  ...Object.entries(seed).map(([n, v]): [string, Entry[], number] => [`legacy:${n}`, v.state_dict, v.params]),
];

const codeOf = (fn: () => unknown): string | undefined => {
  try { fn(); } catch (e) { return (e as { code?: string }).code; }
  return undefined;
};

for (const [name, stateDict, params] of cases) {
  test(`state_dict: ${name}`, (t) => {
    const { config } = resolveModel(name);
    if (config.unsupported.length) {
      t.is(codeOf(() => checkSupported(config)), 'VIT_E_UNSUPPORTED');
      t.is(codeOf(() => expectedStateDict(config)), 'VIT_E_UNSUPPORTED');
      return;
    }
    const got = expectedStateDict(config);
    t.deepEqual(got, stateDict);
    t.is(countParams(got), params);
  });
}

test('supported and unsupported names', (t) => {
  const unsupported = cases.map(([n]) => n).filter((n) => resolveModel(n).config.unsupported.length);
  t.deepEqual(unsupported.sort(), []);
  t.is(resolveModel('vit_base_patch16_siglip_224').config.globalPool, 'map');
  // differential attention is not built yet: refused, naming the option
  t.deepEqual(resolveModel('vit_dlittle_patch16_reg1_gap_256').config.unsupported, ['attn_layer=diff']);
  const err = t.throws(() => checkSupported(resolveModel('vit_dlittle_patch16_reg1_gap_256').config));
  t.regex(err!.message, /attn_layer=diff/);
  t.deepEqual((err as unknown as { unsupported: string[] }).unsupported, ['attn_layer=diff']);
  // eva.py's Eva is built: its architectures resolve to Eva's own options
  const eva = resolveModel('eva02_base_patch14_224').config;
  t.deepEqual([eva.modelClass, eva.unsupported, eva.ropeType, eva.useRotPosEmb, eva.qkvFused], ['Eva', [], 'cat', true, false]);
  // DINOv2 with registers and CLIP towers resolve to their timm options
  const reg = resolveModel('vit_small_patch14_reg4_dinov2').config;
  t.deepEqual([reg.regTokens, reg.noEmbedClass, reg.initValues], [4, true, 1e-5]);
  const clip = resolveModel('vit_base_patch16_clip_224').config;
  t.deepEqual([clip.preNorm, clip.normEps], [true, 1e-5]);
  // hybrids resolve with a backbone description (the model builder decides when they build)
  t.deepEqual(resolveModel('vit_base_r50_s16_384').config.backbone?.layers, [3, 4, 9]);
  t.is(resolveModel('legacy:vit_small_resnet50d_s3_224').config.backbone?.out_index, 3);
});

test('pretrained cfgs equal the fixture for every modern tag and seed name', (t) => {
  for (const [name, v] of Object.entries(modern)) {
    for (const [key, cfg] of Object.entries(v.pretrained_cfgs)) {
      t.deepEqual(getPretrainedCfg(key), { architecture: name, ...cfg }, key);
      t.is(resolveModel(key).tag, key.slice(name.length + 1));
    }
  }
  for (const [name, v] of Object.entries(seed)) {
    t.deepEqual(getPretrainedCfg(`legacy:${name}`), { architecture: `legacy:${name}`, ...v.default_cfg });
  }
});

test("default tag is timm's (first with weights), consistent with the fixture's head", (t) => {
  for (const [name, v] of Object.entries(modern)) {
    const r = resolveModel(name);
    const head = v.state_dict.find(([k]) => k === 'head.weight');
    t.is(r.pretrainedCfg.num_classes, head ? head[1][0] : 0, name);
    t.is(r.config.numClasses, r.pretrainedCfg.num_classes);
    t.deepEqual(r.pretrainedCfg, getPretrainedCfg(`${name}.${r.tag}`));
  }
  t.is(resolveModel('vit_base_patch16_224').tag, 'augreg2_in21k_ft_in1k');
  t.is(resolveModel('vit_small_patch16_224').tag, 'augreg_in21k_ft_in1k');
  t.is(resolveModel('vit_huge_patch14_224').tag, 'orig_in21k');
  t.is(resolveModel('deit3_base_patch16_224').tag, 'fb_in1k');
  t.is(resolveModel('vit_small_resnet26d_224').tag, 'untrained');
  const in21k = resolveModel('vit_base_patch16_224.augreg_in21k');
  t.is(in21k.config.numClasses, 21843);
  t.is(in21k.pretrainedCfg.hf_hub_id, 'timm/vit_base_patch16_224.augreg_in21k');
});

test('legacy and bare name resolution', (t) => {
  const deit = resolveModel('vit_deit_tiny_patch16_224');
  t.is(deit.name, 'legacy:vit_deit_tiny_patch16_224');
  t.is(deit.config.era, 'legacy');
  t.is(deit.tag, null);
  for (const bare of ['vit_base_patch16_224_in21k', 'vit_base_resnet50_384', 'vit_small_resnet50d_s3_224']) {
    t.is(resolveModel(bare).name, `legacy:${bare}`);
  }
  // names in both eras: bare = modern, legacy: = timm 0.4.5
  const small = resolveModel('vit_small_patch16_224').config;
  t.like(small, { era: 'modern', embedDim: 384, depth: 12, numHeads: 6, qkvBias: true, normEps: 1e-6 });
  const seedSmall = resolveModel('legacy:vit_small_patch16_224').config;
  t.like(seedSmall, { era: 'legacy', embedDim: 768, depth: 8, numHeads: 8, mlpRatio: 3, qkvBias: false, normEps: 1e-5 });
  t.is(seedSmall.qkScale, undefined); // timm 0.4.5 with pretrained=False: head_dim^-0.5
  t.is(resolveModel('legacy:vit_small_patch16_224', { pretrained: true }).config.qkScale, 768 ** -0.5);
  t.is(resolveModel('legacy:vit_base_patch16_224', { pretrained: true }).config.qkScale, undefined);
  t.is(resolveModel('vit_base_patch16_224').config.era, 'modern');
  const in21k = resolveModel('vit_huge_patch14_224_in21k').config;
  t.like(in21k, { representationSize: 1280, numClasses: 21843, patchSize: 14, era: 'legacy' });
  // the seed drops the representation layer when fine-tuning to another class count
  const ft = resolveModel('legacy:vit_base_patch16_224_in21k', { numClasses: 10 }).config;
  t.is(ft.representationSize, null);
  t.false(expectedStateDict(ft).some(([k]) => k.startsWith('pre_logits')));
  t.is(codeOf(() => resolveModel('vit_deit_tiny_patch16_224.fb_in1k')), 'VIT_E_UNKNOWN_MODEL');
});

test('unknown names throw VIT_E_UNKNOWN_MODEL with the closest matches', (t) => {
  const e = t.throws(() => resolveModel('vit_base_patch16_244')) as unknown as { code: string; suggestions: string[]; message: string };
  t.is(e.code, 'VIT_E_UNKNOWN_MODEL');
  t.is(e.suggestions[0], 'vit_base_patch16_224');
  t.regex(e.message, /Did you mean: vit_base_patch16_224/);
  const tag = t.throws(() => resolveModel('vit_base_patch16_224.augreg_in21')) as unknown as { code: string; suggestions: string[] };
  t.is(tag.code, 'VIT_E_UNKNOWN_MODEL');
  t.is(tag.suggestions[0], 'vit_base_patch16_224.augreg_in21k');
  const leg = t.throws(() => resolveModel('legacy:deit_tiny_patch16_224')) as unknown as { suggestions: string[] };
  t.true(leg.suggestions.includes('legacy:vit_deit_tiny_patch16_224'));
  t.is(codeOf(() => getPretrainedCfg('resnet50')), 'VIT_E_UNKNOWN_MODEL');
  t.is(codeOf(() => resolveModel('constructor')), 'VIT_E_UNKNOWN_MODEL');
});

test('overrides follow timm create_model kwargs', (t) => {
  const sd = (c: Parameters<typeof expectedStateDict>[0]) => new Map(expectedStateDict(c));
  const big = sd(resolveModel('vit_base_patch16_224', { imgSize: 384 }).config);
  t.deepEqual(big.get('pos_embed'), [1, 577, 768]);
  const rect = sd(resolveModel('deit_tiny_distilled_patch16_224', { imgSize: [224, 320] }).config);
  t.deepEqual(rect.get('pos_embed'), [1, 14 * 20 + 2, 192]);
  const avg = sd(resolveModel('vit_base_patch16_224', { globalPool: 'avg', numClasses: 0, inChans: 1 }).config);
  t.true(avg.has('fc_norm.weight'));
  t.false(avg.has('norm.weight'));
  t.false(avg.has('head.weight'));
  t.deepEqual(avg.get('patch_embed.proj.weight'), [768, 1, 16, 16]);
  t.is(resolveModel('vit_base_patch16_224', { dynamicImgSize: true }).config.dynamicImgSize, true);
  t.is(codeOf(() => resolveModel('legacy:vit_base_patch16_224', { globalPool: 'avg' })), 'VIT_E_UNSUPPORTED');
  t.is(codeOf(() => resolveModel('legacy:vit_base_patch16_224', { dynamicImgSize: true })), 'VIT_E_UNSUPPORTED');
  t.is(codeOf(() => resolveModel('deit_base_distilled_patch16_224', { globalPool: 'avg' })), 'VIT_E_ARGUMENT');
  t.is(codeOf(() => resolveModel('vit_base_patch16_224', { numClasses: -1 })), 'VIT_E_ARGUMENT');
  t.is(codeOf(() => resolveModel('vit_base_patch16_224', { bogus: 1 } as never)), 'VIT_E_ARGUMENT');
});

// Configs as in shared/fixtures/parity/{modern,seed}/manifest.json and shared/fixtures/digits/config.json.
const small = { img_size: 32, patch_size: 8, in_chans: 3, embed_dim: 64, depth: 2, num_heads: 4, mlp_ratio: 4.0, qkv_bias: true };

test('resolveConfig: modern parity configs', (t) => {
  const avg = resolveConfig({ architecture: 'vit_base_patch16_224', num_classes: 7, model_args: { ...small, fc_norm: true, mlp_ratio: 2.0, qkv_bias: false, class_token: true, global_pool: 'avg' } });
  t.like(avg.config, { numClasses: 7, embedDim: 64, depth: 2, mlpRatio: 2, qkvBias: false, globalPool: 'avg', fcNorm: true, imgSize: [32, 32], patchSize: 8 });
  const keys = new Map(expectedStateDict(avg.config));
  t.deepEqual(keys.get('pos_embed'), [1, 17, 64]);
  t.false(keys.has('blocks.0.attn.qkv.bias'));
  t.true(keys.has('fc_norm.weight'));
  const dist = resolveConfig({ architecture: 'deit_base_distilled_patch16_224', num_classes: 5, model_args: { ...small, embed_dim: 48, num_heads: 3, class_token: true, global_pool: 'token' } });
  t.deepEqual(new Map(expectedStateDict(dist.config)).get('head_dist.weight'), [5, 48]);
  const hybrid = resolveConfig({ architecture: 'vit_base_r50_s16_224', num_classes: 10, model_args: { ...small, backbone: { type: 'resnetv2', layers: [1, 1], channels: [32, 64], stem_chs: 16, stem_type: 'same', preact: false, conv: 'std_conv2d_same', norm: 'group_norm', num_groups: 8 }, img_size: 64, patch_size: 1 } });
  const h = new Map(expectedStateDict(hybrid.config));
  t.deepEqual(h.get('pos_embed'), [1, 65, 64]);
  t.deepEqual(h.get('patch_embed.proj.weight'), [64, 64, 1, 1]);
  t.deepEqual(h.get('patch_embed.backbone.stages.1.blocks.0.conv2.weight'), [16, 16, 3, 3]);
  const resnetd = resolveConfig({ architecture: 'vit_base_r50_s16_224', num_classes: 10, model_args: { ...small, backbone: { type: 'resnet', block: 'bottleneck', layers: [1, 1, 1, 1], stem_width: 8, stem_type: 'deep', avg_down: true, channels: [8, 16, 32, 64], out_index: 4 }, img_size: 64, patch_size: 1 } });
  const r = new Map(expectedStateDict(resnetd.config));
  t.deepEqual(r.get('patch_embed.backbone.layer1.0.downsample.1.weight'), [32, 16, 1, 1]);
  t.deepEqual(r.get('patch_embed.proj.weight'), [64, 256, 1, 1]);
  t.deepEqual(r.get('pos_embed'), [1, 5, 64]);
});

test('resolveConfig: seed parity configs (legacy: architectures)', (t) => {
  const smallStyle = resolveConfig({ architecture: 'legacy:vit_base_patch16_224', num_classes: 10, model_args: { ...small, norm_eps: 1e-5, mlp_ratio: 3.0, qkv_bias: false, qk_scale: 0.125 } });
  t.like(smallStyle.config, { era: 'legacy', normEps: 1e-5, qkScale: 0.125, qkvBias: false, numClasses: 10, imgSize: [32, 32] });
  const repr = resolveConfig({ architecture: 'legacy:vit_base_patch16_224', num_classes: 12, model_args: { ...small, norm_eps: 1e-6, representation_size: 64 } });
  const rk = new Map(expectedStateDict(repr.config));
  t.deepEqual(rk.get('pre_logits.fc.weight'), [64, 64]);
  t.deepEqual(rk.get('head.weight'), [12, 64]);
  const dist = resolveConfig({ architecture: 'legacy:vit_deit_base_distilled_patch16_224', num_classes: 5, model_args: { ...small, norm_eps: 1e-6 } });
  t.deepEqual(new Map(expectedStateDict(dist.config)).get('pos_embed'), [1, 18, 64]);
  // seed HybridEmbed ignores patch_size: 1x1 projection
  const hybrid = resolveConfig({ architecture: 'legacy:vit_base_resnet50_384', num_classes: 10, model_args: { ...small, norm_eps: 1e-6, img_size: 64, backbone: { type: 'resnetv2', layers: [1, 1], channels: [128, 256], stem_chs: 32, stem_type: 'same', preact: false, conv: 'std_conv2d_same', norm: 'group_norm', num_groups: 32 } } });
  const hk = new Map(expectedStateDict(hybrid.config));
  t.deepEqual(hk.get('patch_embed.proj.weight'), [64, 256, 1, 1]);
  t.deepEqual(hk.get('pos_embed'), [1, 65, 64]);
  t.is(resolveConfig({ architecture: 'legacy:vit_small_patch16_224', model_args: {} }, { pretrained: true }).config.qkScale, 768 ** -0.5);
});

test('resolveConfig: HF hub config.json with pretrained_cfg (digits)', (t) => {
  const hf: HfConfig = {
    architecture: 'vit_base_patch16_224', num_classes: 10, num_features: 96,
    model_args: { img_size: 32, patch_size: 4, in_chans: 3, embed_dim: 96, depth: 4, num_heads: 3, mlp_ratio: 4.0 },
    pretrained_cfg: { input_size: [3, 32, 32], mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], crop_pct: 1.0, interpolation: 'bicubic', num_classes: 10, label_names: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], first_conv: 'patch_embed.proj', classifier: 'head' },
  };
  const r = resolveConfig(hf);
  t.like(r.config, { imgSize: [32, 32], patchSize: 4, embedDim: 96, depth: 4, numHeads: 3, numClasses: 10 });
  t.like(r.pretrainedCfg, { crop_pct: 1.0, crop_mode: 'center', num_classes: 10, input_size: [3, 32, 32] });
  t.is(r.pretrainedCfg.label_names?.length, 10);
  t.deepEqual(new Map(expectedStateDict(r.config)).get('pos_embed'), [1, 65, 96]);
});

test('resolveConfig: unknown and unsupported model_args', (t) => {
  const e = t.throws(() => resolveConfig({ architecture: 'vit_base_patch16_224', model_args: { embed_dim: 64, num_heads: 4, wat: 1, zzz: 2 } })) as unknown as { code: string; unsupported: string[]; message: string };
  t.is(e.code, 'VIT_E_UNSUPPORTED');
  t.deepEqual(e.unsupported, ['wat', 'zzz']);
  t.regex(e.message, /wat, zzz/);
  t.is(codeOf(() => resolveConfig({ architecture: 'vit_base_patch16_224', model_args: { constructor: 1 } })), 'VIT_E_UNSUPPORTED');
  t.is(codeOf(() => resolveConfig({ architecture: 'vit_base_patch16_224', bogus: 1 } as HfConfig)), 'VIT_E_UNSUPPORTED');
  t.deepEqual(resolveConfig({ architecture: 'vit_base_patch16_224', model_args: { reg_tokens: 4, pre_norm: true, global_pool: 'map', qk_norm: true, norm_layer: 'batchnorm', attn_layer: 'diff' } }).config.unsupported, ['norm_layer=batchnorm', 'attn_layer=diff']);
  t.deepEqual(resolveConfig({ architecture: 'vit_base_patch16_224', model_args: { reg_tokens: 0, pre_norm: false, drop_path_rate: 0.1 } }).config.unsupported, []);
  t.is(codeOf(() => resolveConfig({ architecture: 'vit_base_patch16_224', model_args: { qk_scale: 0.1 } })), 'VIT_E_UNSUPPORTED');
  t.is(codeOf(() => resolveConfig({ architecture: 'legacy:vit_base_patch16_224', model_args: { init_values: 1e-5 } })), 'VIT_E_UNSUPPORTED');
  t.is(codeOf(() => resolveConfig({ architecture: 'vit_base_patch16_224', model_args: { depth: '12' } })), 'VIT_E_ARGUMENT');
  t.is(codeOf(() => resolveConfig({ architecture: 'vit_bsae_patch16_224' })), 'VIT_E_UNKNOWN_MODEL');
  // DeiT-III options
  const d3 = resolveConfig({ architecture: 'vit_base_patch16_224', model_args: { ...small, init_values: 1e-6, no_embed_class: true } });
  const k = new Map(expectedStateDict(d3.config));
  t.deepEqual(k.get('pos_embed'), [1, 16, 64]);
  t.deepEqual(k.get('blocks.1.ls2.gamma'), [64]);
});

test('listModels', (t) => {
  const legacy = listModels('legacy:*');
  t.is(legacy.length, 28);
  t.true(legacy.every((n) => n.startsWith('legacy:')));
  const all = listModels();
  t.false(all.some((n) => n.startsWith('legacy:')));
  t.true(all.includes('vit_deit_tiny_patch16_224'));
  t.true(all.includes('vit_base_patch16_224'));
  t.true(all.includes('vit_base_patch16_clip_224'));
  for (const n of [...all, ...legacy]) t.notThrows(() => resolveModel(n), n);
  t.deepEqual(listModels('deit3*'), ['deit3_base_patch16_224', 'deit3_base_patch16_384', 'deit3_huge_patch14_224', 'deit3_large_patch16_224',
    'deit3_large_patch16_384', 'deit3_medium_patch16_224', 'deit3_small_patch16_224', 'deit3_small_patch16_384']);
  const base = listModels('vit_base_patch*_224');
  t.true(base.indexOf('vit_base_patch8_224') < base.indexOf('vit_base_patch16_224')); // natural sort
  t.deepEqual(listModels('legacy:vit_small_*'), ['legacy:vit_small_patch16_224', 'legacy:vit_small_resnet26d_224', 'legacy:vit_small_resnet50d_s3_224']);
  t.deepEqual(listModels(['deit_tiny_*', 'legacy:vit_deit_tiny_patch16_224']), ['deit_tiny_distilled_patch16_224', 'deit_tiny_patch16_224', 'legacy:vit_deit_tiny_patch16_224']);
  const tagged = listModels('vit_base_patch16_224', { includeTags: true });
  t.is(tagged.length, 9);
  t.true(tagged.includes('vit_base_patch16_224.augreg2_in21k_ft_in1k'));
  t.deepEqual(listModels('deit3_*_224.fb_in22k*', { includeTags: true }), ['deit3_base_patch16_224.fb_in22k_ft_in1k',
    'deit3_huge_patch14_224.fb_in22k_ft_in1k', 'deit3_large_patch16_224.fb_in22k_ft_in1k', 'deit3_medium_patch16_224.fb_in22k_ft_in1k',
    'deit3_small_patch16_224.fb_in22k_ft_in1k']);
  // timm's deprecated names resolve to their arch.tag; the seed's bare names keep their timm 0.4.5 definition
  t.deepEqual([resolveModel('vit_small_patch16_224_dino').name, resolveModel('vit_small_patch16_224_dino').tag], ['vit_small_patch16_224', 'dino']);
  t.is(resolveModel('vit_base_patch16_224_in21k').name, 'legacy:vit_base_patch16_224_in21k');
  t.deepEqual(listModels('nope*'), []);
});
