// act_layer 'gelu_tanh' (timm's name for GELU's tanh approximation): as a createModel option and from a config's
// model_args, against timm's own logits for the same weights (test/fixtures/gelu-tanh, scripts/make-gelu-tanh-fixture.py).
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createModel, readSafetensors, Tensor } from '../lib/index.ts';
import { close, FIXTURES, relErr } from './helpers.ts';

interface Case {
  name: string;
  config: { architecture: string; num_classes: number; model_args: Record<string, unknown> };
  weights: string;
  io: string;
}
const DIR = join(FIXTURES, 'gelu-tanh');
const cases = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) as Case[];

for (const c of cases) {
  test(`${c.name}: actLayer 'gelu_tanh' matches timm (act_layer='gelu_tanh'), and differs from exact GELU`, async (t) => {
    const io = readSafetensors(join(DIR, c.io));
    const x = new Tensor(io.get('input')!.data, io.get('input')!.shape);
    const want = io.get('logits')!;
    const checkpoint = join(DIR, c.weights);
    const byOption = await createModel(c.config, { checkpoint, actLayer: 'gelu_tanh' });
    const byConfig = await createModel({ ...c.config, model_args: { ...c.config.model_args, act_layer: 'gelu_tanh' } }, { checkpoint });
    const exact = await createModel(c.config, { checkpoint });
    t.teardown(() => [byOption, byConfig, exact].forEach((m) => m.dispose()));
    t.is(byOption.config.actLayer, 'gelu_tanh');
    close(t, await byOption.forward(x), want, 'option');
    close(t, await byConfig.forward(x), want, 'model_args.act_layer');
    // The approximation is visible at the fixtures' tolerance: the test could not pass with exact GELU.
    t.true(relErr((await exact.forward(x)).data, want.data) > 1e-4, 'exact GELU gives other logits');
  });
}

test('actLayer: the option takes the GELU variants; other act_layer values come from timm model_args', async (t) => {
  const c = cases[0];
  await t.throwsAsync(createModel(c.config, { actLayer: 'relu' as 'gelu' }), { code: 'VIT_E_ARGUMENT' });
  await t.throwsAsync(createModel({ ...c.config, model_args: { ...c.config.model_args, act_layer: 'mish' } }), {
    code: 'VIT_E_UNSUPPORTED',
    message: /act_layer=mish/,
  });
});
