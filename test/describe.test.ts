// Every registry name builds exactly timm's state_dict (keys, shapes, order). The engine's module tree
// (createModelModule(config).params(), what model.stateDict() returns) is compared for all names without allocating
// weights; a few small models are really created.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { createModel, listModels, resolveModel } from '../lib/index.ts';
import { createModelModule } from '../lib/models/index.ts';
import { FIXTURES } from './helpers.ts';

type Entry = [string, number[]];
const load = (f: string): Record<string, { state_dict: Entry[]; params: number }> =>
  JSON.parse(readFileSync(`${FIXTURES}arch/${f}`, 'utf8'));
// Every timm 1.0.29 architecture's state_dict (scripts/dump-timm-registry.py, built on the meta device).
const modern: Record<string, { state_dict: Entry[]; params: number }> = JSON.parse(
  gunzipSync(readFileSync(`${FIXTURES}arch/timm-state-dicts.json.gz`)).toString('utf8'));
const seed = load('seed-variants.json');

/** The arch fixture entry a listed name must match: modern names by themselves, legacy/bare seed names by seed. */
function fixtureFor(name: string): Entry[] | undefined {
  if (name.startsWith('legacy:')) return seed[name.slice('legacy:'.length)]?.state_dict;
  return modern[name]?.state_dict ?? seed[name]?.state_dict;
}

const names = [...listModels(), ...listModels('legacy:*')];
const isSupported = (n: string) => {
  const c = resolveModel(n).config;
  return !c.unsupported.length;
};

test('listModels covers every fixture name', (t) => {
  t.is(listModels('legacy:*').length, 28);
  t.deepEqual(listModels('legacy:*').map((n) => n.slice(7)).sort(), Object.keys(seed).sort());
  for (const n of Object.keys(modern)) t.true(names.includes(n), n);
  // every listed name has a fixture to compare against
  t.deepEqual(names.filter((n) => !fixtureFor(n)), []);
});

for (const name of names) {
  if (isSupported(name)) {
    test(`describe ${name}`, (t) => {
      const { config } = resolveModel(name);
      const got = createModelModule(config).params();
      if (config.era === 'modern' && !modern[name]) {
        // A modern name the modern fixture lacks (vit_large_patch32_224: timm HEAD only has its head-less
        // orig_in21k weights, num_classes 0). Plain ViTs are the same network in both eras (spec: bit-identical),
        // so the seed's list applies: without the head at the default 0 classes, exactly with 1000 classes.
        t.is(config.numClasses, 0);
        t.deepEqual(got, fixtureFor(name)!.filter(([k]) => !k.startsWith('head')));
        t.deepEqual(createModelModule(resolveModel(name, { numClasses: 1000 }).config).params(), fixtureFor(name));
        return;
      }
      t.deepEqual(got, fixtureFor(name));
    });
  } else {
    test(`unsupported ${name} rejects with VIT_E_UNSUPPORTED`, async (t) => {
      const err = await t.throwsAsync(createModel(name), { code: 'VIT_E_UNSUPPORTED' });
      t.regex(err!.message, /not supported/);
    });
  }
}

test('the supported / unsupported split', (t) => {
  const unsupported = names.filter((n) => !isSupported(n));
  // 291 names: 247 timm 1.0.29 architectures (60 of them eva.py's Eva class, all built) + 16 bare seed-only
  // names + 28 legacy: names. Every buildable name's state_dict equals timm's (the tests above). Left: MobileCLIP's
  // conv stem (vit_base_mci_224) and the differential-attention SBB ViTs (attn_layer 'diff').
  t.is(names.length, 291);
  t.is(names.length - unsupported.length, 287);
  for (const n of unsupported) t.true(resolveModel(n).config.unsupported.length > 0, n);
});

// Real models for a few small names: stateDict() and the loaded weights' shapes equal timm's list.
for (const name of ['deit_tiny_patch16_224', 'deit_tiny_distilled_patch16_224', 'legacy:vit_deit_tiny_distilled_patch16_224', 'vit_tiny_patch16_384', 'deit3_small_patch16_224']) {
  test(`createModel ${name}: stateDict() and native weights`, async (t) => {
    const m = await createModel(name, { threads: 2 });
    t.teardown(() => m.dispose());
    const want = fixtureFor(name)!;
    t.deepEqual(m.stateDictShapes(), want);
    t.deepEqual([...m.stateDict()].map(([k, v]) => [k, v.shape]), want, 'stateDict(): the tensors, timm order');
    for (const [k, shape] of want) t.deepEqual([...m.getWeight(k).shape], shape, k);
    const params = want.reduce((a, [, s]) => a + s.reduce((x, y) => x * y, 1), 0);
    t.is(m.weightBytes, params * 4);
  });
}
