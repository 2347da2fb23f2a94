// The ViT families of timm's vision_transformer.py (CLIP, SigLIP, DINOv2, AIMv2, BEiT-3, ...): every case of
// test/fixtures/families (timm 1.0.29 on random weights, scripts/make-family-fixtures.py) either matches timm at
// the float32 tolerance on every output it lists, or is refused with VIT_E_UNSUPPORTED naming what is missing —
// never built with an option silently ignored. The cases that build are pinned, so coverage only grows.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createModel, readSafetensors, resolveConfig, Tensor } from '../lib/index.ts';
import { close, FIXTURES, type ParityCase } from './helpers.ts';
import { checkCase } from './parity-check.ts';

const DIR = join(FIXTURES, 'families');
const cases: (ParityCase & { why?: string })[] = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8'));

/** The options a case needs that vitnode lacks ([] = buildable). Unknown model_args count as missing too. */
function missing(c: ParityCase): string[] {
  try {
    return resolveConfig(c.config).config.unsupported;
  } catch (err) {
    const e = err as { code?: string; unsupported?: string[] };
    if (e.code === 'VIT_E_UNSUPPORTED') return e.unsupported ?? ['?'];
    if (e.code === 'VIT_E_UNKNOWN_MODEL') return [`architecture ${c.config.architecture}`];
    throw err;
  }
}

const supported = cases.filter((c) => missing(c).length === 0).map((c) => c.name);

for (const c of cases) {
  const gaps = missing(c);
  if (!gaps.length) {
    test(`${c.name}: timm's outputs (${c.why ?? c.config.architecture})`, (t) => checkCase(t, DIR, c));
  } else {
    test(`${c.name}: refused (${gaps.join(', ')})`, async (t) => {
      const err = await t.throwsAsync(createModel(c.config, { checkpoint: join(DIR, c.weights) }));
      t.true(['VIT_E_UNSUPPORTED', 'VIT_E_UNKNOWN_MODEL'].includes((err as { code?: string }).code!), String(err));
    });
  }
}

/** Cases that build today: coverage may grow, never shrink. */
const PINNED = [
  'pool_avg_fcnorm_reg2', 'pool_avgmax_reg2', 'pool_max_reg2', 'pool_avg_include_prefix_reg2', 'pool_token_fcnorm_reg2',
  'pool_none_fcnorm_reg2', 'pool_token_reg2', 'pool_avg_nofcnorm_reg2', 'pool_avgmax_nofcnorm_include_prefix_reg2',
  'pool_max_nofcnorm_reg2', 'pool_none_reg2', 'pool_prr_cls_reg2', 'pool_prr_nocls_reg1', 'pool_avg_nofcnorm_nocls_reg1',
  'pool_max_nofcnorm_include_prefix_nocls_reg1', 'act_quick_gelu', 'act_gelu_tanh', 'act_silu', 'act_relu',
  'qk_norm_no_proj_bias', 'mlp_swiglu_scale_mlp_norm', 'mlp_glumlp_sigmoid', 'mlp_swiglupacked_gelu', 'pos_none_dynamic',
  'pos_none_dynamic_24x12', 'clip', 'clip_quickgelu', 'siglip_map', 'siglip_map_fcnorm', 'siglip2_so400m_map',
  'siglip2_so400m_gap', 'dinov2_reg4_dynamic', 'dinov2_reg4_dynamic_20x8', 'dinov2_reg4_dynamic_pad_14x10',
  'dinov2_giant_reg4', 'aimv2', 'beit3', 'medium_gap', 'medium_reg4_gap', 'so150m_reg4_map', 'rpn_respost',
  'parallel_things_18x2', 'xp_parallel_scaling', 'pwee_parallel_scaling', 'intern300m_dynamic', 'intern300m_dynamic_20x8',
  'test_vit2_dynamic', 'test_vit2_dynamic_20x8', 'test_vit3_map_prefix', 'test_vit4_rmsnorm_dynamic',
  'test_vit4_rmsnorm_dynamic_8x20',
];

test('supported family cases: every pinned case still builds', (t) => {
  t.deepEqual(PINNED.filter((n) => !supported.includes(n)), []);
  t.log(`${supported.length} of ${cases.length} family cases build and match timm`);
});

test("map pooling and resetClassifier: timm keeps the attention pool, drops it for another pool, cannot add one", async (t) => {
  const c = cases.find((x) => x.name === 'siglip_map')!;
  const m = await createModel(c.config, { checkpoint: join(DIR, c.weights) });
  t.teardown(() => m.dispose());
  const io = readSafetensors(join(DIR, c.io));
  const x = new Tensor(io.get('input')!.data, io.get('input')!.shape);
  m.resetClassifier(0);
  const keys = () => m.stateDictShapes().map(([k]) => k);
  t.true(keys().some((k) => k.startsWith('attn_pool.')));
  close(t, await m.forward(x), io.get('pre_logits')!, 'no head: logits are the pooled pre-logits');
  m.resetClassifier(3, 'avg');
  t.false(keys().some((k) => k.startsWith('attn_pool.')), 'attn_pool dropped');
  const clipCase = cases.find((x) => x.name === 'clip')!;
  const clip = await createModel(clipCase.config, { checkpoint: join(DIR, clipCase.weights) });
  t.teardown(() => clip.dispose());
  t.throws(() => clip.resetClassifier(3, 'map'), { code: 'VIT_E_UNSUPPORTED' });
});
