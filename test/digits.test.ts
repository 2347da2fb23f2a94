// The digits model: a real timm ViT trained on real data (test/fixtures/digits). timm's label on all 60 held-out
// images, and timm's logits at the fixtures' float32 tolerance.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createModel, readSafetensors, Tensor } from '../lib/index.ts';
import { argmax, close, FIXTURES, relErr } from './helpers.ts';

const DIR = join(FIXTURES, 'digits');
const expected = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as {
  images: { file: string; label: number; pred: number; logits: number[] }[];
};
const io = readSafetensors(join(DIR, 'input.safetensors'));
const input = io.get('input')!;
const logits = io.get('logits')!;

test('fixture shape', (t) => {
  t.deepEqual(input.shape, [60, 3, 32, 32]);
  t.deepEqual(logits.shape, [60, 10]);
  t.is(expected.images.length, 60);
});

test('digits: timm label on all 60 images, logits within 1e-4 (config.json path + model.safetensors)', async (t) => {
  const model = await createModel(join(DIR, 'config.json'), { checkpoint: join(DIR, 'model.safetensors') });
  t.teardown(() => model.dispose());
  t.is(model.numClasses, 10);
  t.is(model.numFeatures, 96);
  const y = await model.forward(new Tensor(input.data, input.shape));
  close(t, y, logits, 'logits [60, 10]');
  const preds = expected.images.map((_, i) => argmax(y.data, i * 10, 10));
  t.deepEqual(preds, expected.images.map((e) => e.pred), "timm's predictions");
  // The reference is 100% accurate on these images, so the labels agree too.
  t.deepEqual(preds, expected.images.map((e) => e.label));
  // expected.json's logits are rounded to 5 decimals: still well inside the tolerance.
  t.true(relErr(y.data, expected.images.flatMap((e) => e.logits)) <= 1e-4);
});

test('digits: one image at a time equals the batch, config object form', async (t) => {
  const cfg = JSON.parse(readFileSync(join(DIR, 'config.json'), 'utf8'));
  const model = await createModel(cfg, { checkpoint: join(DIR, 'model.safetensors'), threads: 2 });
  t.teardown(() => model.dispose());
  const per = 3 * 32 * 32;
  const outs = await Promise.all(
    [0, 17, 59].map((i) => model.forward(new Tensor(input.data.slice(i * per, (i + 1) * per), [1, 3, 32, 32]))),
  );
  [0, 17, 59].forEach((i, j) => {
    close(t, outs[j], { shape: [1, 10], data: logits.data.slice(i * 10, i * 10 + 10) }, `image ${i}`);
    t.is(argmax(outs[j].data), expected.images[i].pred);
  });
});
