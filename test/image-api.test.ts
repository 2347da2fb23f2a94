// The image API: classify / embed / features / featuresOnly on real images, against the forward* outputs on the same
// preprocessed tensors, timm's labels on the 60 digits PNGs, and per-image typed errors in a batch.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { createModel, ImageError, imagenet1kLabels, labelsFor, preprocess, readSafetensors, Tensor, VitError } from '../lib/index.ts';
import { BASIC, basicCheckpoint, close, FIXTURES, tmpDir } from './helpers.ts';

const DIGITS = join(FIXTURES, 'digits');
const expected = JSON.parse(readFileSync(join(DIGITS, 'expected.json'), 'utf8')) as { images: { file: string; label: number; pred: number }[] };
const files = expected.images.map((e) => join(DIGITS, 'images', e.file));
const PHOTOS = join(FIXTURES, 'preprocess', 'images');
const photos = ['chelsea.png', 'rocket.jpg', 'camera.png', 'logo.png'].map((f) => join(PHOTOS, f));

const digitsModel = (extra = {}) => createModel(join(DIGITS, 'config.json'), { checkpoint: join(DIGITS, 'model.safetensors'), ...extra });

test("digits: the 60 PNGs through the image path give timm's labels; the preprocessed batch is timm's input", async (t) => {
  const model = await digitsModel();
  t.teardown(() => model.dispose());
  const x = await preprocess(files, model);
  const want = readSafetensors(join(DIGITS, 'input.safetensors')).get('input')!;
  close(t, x, want, 'preprocessed digits vs input.safetensors', 1e-6);
  const preds = await model.classify(files, { topK: 1, batchSize: 16 });
  t.deepEqual(preds.map((p) => p[0].index), expected.images.map((e) => e.pred));
  t.deepEqual(preds.map((p) => p[0].label), expected.images.map((e) => String(e.pred)), 'label_names from the HF config');
  // Buffers and raw pixels work the same
  const viaBuffers = await model.classify(files.slice(0, 5).map((f) => readFileSync(f)), { topK: 1 });
  t.deepEqual(viaBuffers.map((p) => p[0].index), expected.images.slice(0, 5).map((e) => e.pred));
});

test('classify: softmax of forward logits, top-k sorted, batching does not matter', async (t) => {
  const model = await digitsModel();
  t.teardown(() => model.dispose());
  const some = files.slice(0, 7);
  const logits = await model.forward(await preprocess(some, model));
  const all = await model.classify(some, { topK: 10, batchSize: 3 });
  for (const [i, preds] of all.entries()) {
    const row = Array.from(logits.data.subarray(i * 10, (i + 1) * 10));
    const m = Math.max(...row);
    const z = row.reduce((a, v) => a + Math.exp(v - m), 0);
    t.is(preds.length, 10);
    for (const p of preds) t.true(Math.abs(p.score - Math.exp(row[p.index] - m) / z) < 1e-6);
    t.true(preds.every((p, j) => j === 0 || preds[j - 1].score >= p.score));
    t.true(Math.abs(preds.reduce((a, p) => a + p.score, 0) - 1) < 1e-6);
  }
  const top3 = await model.classify(some[0]);
  t.is(top3.length, 1);
  t.is(top3[0].length, 5, 'default topK 5');
  await t.throwsAsync(model.classify(some, { topK: 0 }), { instanceOf: VitError, message: /topK/ });
});

test('embed: pre-logits of the preprocessed images', async (t) => {
  const model = await digitsModel();
  t.teardown(() => model.dispose());
  const some = files.slice(0, 5);
  const e = await model.embed(some, { batchSize: 2 });
  t.deepEqual([...e.shape], [5, model.numFeatures]);
  const ref = (await model.run(await preprocess(some, model), { outputs: ['pre_logits'] })).pre_logits as Tensor;
  close(t, e, ref, 'embed vs run(pre_logits)', 1e-6);
  // forwardHead(pre_logits) on forwardFeatures gives the same
  const head = await model.forwardHead(await model.forwardFeatures(await preprocess(some, model)), { preLogits: true });
  close(t, e, head, 'embed vs forwardHead(preLogits)', 1e-5);
});

test('features: forwardIntermediates maps with timm feature_info (default last 3 blocks, NCHW; NLC; norm)', async (t) => {
  const model = await digitsModel();
  t.teardown(() => model.dispose());
  const some = files.slice(0, 3);
  const x = await preprocess(some, model);
  const f = await model.features(some);
  t.deepEqual(f.featureInfo, [1, 2, 3].map((i) => ({ index: i, module: `blocks.${i}`, channels: 96, reduction: 4 })));
  const ref = (await model.forwardIntermediates(x, { indices: 3, intermediatesOnly: true })) as Tensor[];
  t.is(f.features.length, 3);
  f.features.forEach((m, i) => {
    t.deepEqual([...m.shape], [3, 96, 8, 8]);
    close(t, m, ref[i], `map ${i}`, 1e-6);
  });
  const nlc = await model.features(some, { outIndices: [0, -1], norm: true, format: 'NLC', batchSize: 2 });
  const refNlc = (await model.forwardIntermediates(x, { indices: [0, -1], norm: true, outputFmt: 'NLC', intermediatesOnly: true })) as Tensor[];
  t.deepEqual(nlc.featureInfo.map((i) => i.module), ['blocks.0', 'blocks.3']);
  nlc.features.forEach((m, i) => {
    t.deepEqual([...m.shape], [3, 64, 96]);
    close(t, m, refNlc[i], `NLC map ${i}`, 1e-6);
  });
  t.is(model.featureInfo.length, 4, 'model.featureInfo lists every block');
});

test('createModel featuresOnly: timm feature-extraction semantics', async (t) => {
  const fo = await digitsModel({ featuresOnly: true });
  t.teardown(() => fo.dispose());
  t.true(fo.featuresOnly);
  t.deepEqual(fo.featureInfo.map((i) => i.module), ['blocks.1', 'blocks.2', 'blocks.3']);
  const x = await preprocess(files.slice(0, 2), fo);
  const maps = await fo.forwardFeatureMaps(x);
  t.deepEqual(maps.map((m) => [...m.shape]), [[2, 96, 8, 8], [2, 96, 8, 8], [2, 96, 8, 8]]);
  await t.throwsAsync(fo.forward(x), { instanceOf: VitError, message: /featuresOnly/ });
  await t.throwsAsync(fo.classify(files[0]), { instanceOf: VitError, message: /featuresOnly/ });
  const two = await digitsModel({ featuresOnly: true, outIndices: [0, 2] });
  t.teardown(() => two.dispose());
  const r = await two.features(files.slice(0, 2));
  t.deepEqual(r.featureInfo.map((i) => i.index), [0, 2]);
  const full = await digitsModel();
  t.teardown(() => full.dispose());
  const ref = (await full.forwardIntermediates(x, { indices: [0, 2], intermediatesOnly: true })) as Tensor[];
  r.features.forEach((m, i) => close(t, m, ref[i], `featuresOnly map ${i}`, 1e-6));
  await t.throwsAsync(digitsModel({ outIndices: [1] }), { instanceOf: VitError, message: /featuresOnly/ });
  await t.throwsAsync(digitsModel({ featuresOnly: true, outIndices: [7] }), { instanceOf: VitError, message: /out of range/ });
});

test('ImageNet labels: a 1000-class head reports ImageNet-1k names; photos of any size and mode go through', async (t) => {
  const model = await createModel(BASIC.config, { numClasses: 1000 });
  t.teardown(() => model.dispose());
  const preds = await model.classify(photos, { topK: 2 });
  const names = imagenet1kLabels();
  t.is(names.length, 1000);
  t.is(names[281].label, 'tabby');
  for (const p of preds) {
    t.is(p.length, 2);
    t.is(p[0].label, names[p[0].index].label);
    t.is(p[0].synset, names[p[0].index].synset);
  }
  const in21k = await labelsFor({}, 21843);
  t.is(in21k[0].synset, 'n00004475');
  t.is(in21k[0].label, 'organism');
  const hf = await labelsFor({ label_names: ['n02123045', 'dog'] }, 2);
  t.deepEqual(hf.map((l) => l.label), ['tabby', 'dog']);
});

test('a batch with bad images: per-image typed errors, the rest classified; default rejects naming the image', async (t) => {
  const dir = tmpDir(t);
  const empty = join(dir, 'empty.png');
  writeFileSync(empty, Buffer.alloc(0));
  const trunc = join(dir, 'trunc.png');
  const png = readFileSync(files[0]);
  writeFileSync(trunc, png.subarray(0, png.length - 40));
  const model = await createModel(BASIC.config, { checkpoint: basicCheckpoint });
  t.teardown(() => model.dispose());
  const list = [files[0], empty, join(dir, 'missing.png'), trunc, files[1]];
  const r = await model.classify(list, { errors: 'return', batchSize: 2 });
  t.true(Array.isArray(r[0]) && Array.isArray(r[4]));
  const errs = r.slice(1, 4) as ImageError[];
  t.true(errs.every((e) => e instanceof ImageError && e.code === 'VIT_E_IMAGE'));
  t.deepEqual(errs.map((e) => [e.index, e.reason]), [[1, 'empty'], [2, 'not_found'], [3, 'truncated']]);
  const err = await t.throwsAsync(model.classify(list), { instanceOf: ImageError });
  t.is(err!.index, 1);
  await t.throwsAsync(model.embed([files[0], trunc]), { instanceOf: ImageError });
  await t.throwsAsync(model.features([trunc]), { instanceOf: ImageError });
  // still works
  const ok = await model.classify([files[0], files[1]], { topK: 1 });
  t.deepEqual(ok.map((p) => p[0].index), [(r[0] as { index: number }[])[0].index, (r[4] as { index: number }[])[0].index]);
});
