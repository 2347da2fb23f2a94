// The parity check shared by the fixture suites (test/parity.test.ts, test/families.test.ts): every output a case
// lists (logits, features, pre_logits, intermediates, adapted weights), one pass through run() too.
import type { ExecutionContext } from 'ava';
import { join } from 'node:path';
import { createModel, readSafetensors, Tensor } from '../lib/index.ts';
import { close, type ParityCase } from './helpers.ts';

const NLC = { indices: [0, -1], norm: true, outputFmt: 'NLC' as const, intermediatesOnly: true };

/** Every output a fixture case lists, through the public API, at the fixtures' tolerance. `dir` holds its files. */
export async function checkCase(t: ExecutionContext, dir: string, c: ParityCase) {
  const io = readSafetensors(join(dir, c.io));
  const model = await createModel(c.config, { checkpoint: join(dir, c.weights) });
  t.teardown(() => model.dispose());
  const legacy = c.config.architecture.startsWith('legacy:');
  const xi = io.get('input')!;
  const x = new Tensor(xi.data, xi.shape);
  const want = (k: string) => io.get(k)!;
  let checked = 0;

  if (c.outputs.includes('logits')) {
    close(t, await model.forward(x), want('logits'), 'forward');
    checked++;
  }
  if (c.outputs.includes('features')) {
    t.false(legacy);
    const f = await model.forwardFeatures(x);
    close(t, f, want('features'), 'forwardFeatures');
    checked++;
  }
  if (c.outputs.includes('pre_logits')) {
    const p = legacy ? await model.forwardFeatures(x) : await model.forwardHead(await model.forwardFeatures(x), { preLogits: true });
    close(t, p, want('pre_logits'), legacy ? 'forwardFeatures (legacy: pre_logits)' : 'forwardHead preLogits');
    checked++;
  }
  const inter = c.outputs.filter((o) => /^intermediates\.\d+$/.test(o)).sort();
  if (inter.length) {
    const got = (await model.forwardIntermediates(x, { intermediatesOnly: true })) as Tensor[];
    t.is(got.length, inter.length, 'default intermediates: one per block');
    got.forEach((g, i) => close(t, g, want(`intermediates.${i}`), `intermediates.${i}`));
    // Not intermediatesOnly: {features, intermediates} in one pass
    const both = (await model.forwardIntermediates(x)) as { features: Tensor; intermediates: Tensor[] };
    close(t, both.features, want('features'), 'forwardIntermediates features');
    both.intermediates.forEach((g, i) => close(t, g, want(`intermediates.${i}`), `forwardIntermediates intermediates.${i}`));
    checked += inter.length;
  }
  const nlc = c.outputs.filter((o) => o.startsWith('intermediates_norm_nlc.')).sort();
  if (nlc.length) {
    const got = (await model.forwardIntermediates(x, NLC)) as Tensor[];
    t.is(got.length, nlc.length);
    got.forEach((g, i) => close(t, g, want(`intermediates_norm_nlc.${i}`), `intermediates_norm_nlc.${i}`));
    checked += nlc.length;
  }
  for (const key of ['pos_embed', 'patch_embed.proj.weight']) {
    if (!c.outputs.includes(key)) continue;
    close(t, model.getWeight(key), want(key), `adapted ${key}`);
    t.true(model.loadReport!.adapted.includes(key), `${key} reported as adapted`);
    checked++;
  }
  t.is(checked, c.outputs.length, 'every listed output was compared');

  // All the outputs of one pass through run(): the same numbers.
  const outs = (['logits', 'features', 'pre_logits'] as const).filter((o) => c.outputs.includes(o));
  if (outs.length || inter.length) {
    const r = await model.run(x, { outputs: [...outs, ...(inter.length ? (['intermediates'] as const) : [])] });
    for (const o of outs) close(t, r[o] as Tensor, want(o), `run ${o}`);
    ((r.intermediates ?? []) as Tensor[]).forEach((g, i) => close(t, g, want(`intermediates.${i}`), `run intermediates.${i}`));
  }
}

