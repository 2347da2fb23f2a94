// vitnode classify / embed / features / preprocess, run as a user would (a child process).
import { readFileSync, writeFileSync, copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { createModel, preprocess, readSafetensors, Tensor } from '../lib/index.ts';
import { close, FIXTURES, tmpDir, vitnode } from './helpers.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const DIGITS = join(FIXTURES, 'digits');
const expected = JSON.parse(readFileSync(join(DIGITS, 'expected.json'), 'utf8')) as { images: { file: string; pred: number }[] };


/** A model directory in Hugging Face layout (config.json + model.safetensors). */
function modelDir(t: Parameters<typeof tmpDir>[0]): { dir: string; imgs: string } {
  const dir = tmpDir(t);
  copyFileSync(join(DIGITS, 'config.json'), join(dir, 'config.json'));
  copyFileSync(join(DIGITS, 'model.safetensors'), join(dir, 'model.safetensors'));
  const imgs = join(dir, 'imgs');
  mkdirSync(imgs);
  for (const e of expected.images.slice(0, 6)) copyFileSync(join(DIGITS, 'images', e.file), join(imgs, e.file));
  return { dir, imgs };
}

test('classify --json over a glob with bad files: one line per file in order, errors typed, exit code 1', async (t) => {
  const { dir, imgs } = modelDir(t);
  writeFileSync(join(imgs, '003a_empty.png'), Buffer.alloc(0));
  writeFileSync(join(imgs, '003b_trunc.png'), readFileSync(join(imgs, expected.images[0].file)).subarray(0, 200));
  const r = await vitnode(['classify', '--model', dir, '--json', '--top-k', '3', '--batch-size', '4', `${imgs}/*.png`, join(imgs, 'missing.png')]);
  t.is(r.code, 1, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  t.is(lines.length, 9);
  const byFile = new Map(lines.map((l) => [l.file.split('/').pop(), l]));
  for (const e of expected.images.slice(0, 6)) {
    const l = byFile.get(e.file);
    t.is(l.predictions.length, 3);
    t.is(l.predictions[0].index, e.pred);
    t.is(l.predictions[0].label, String(e.pred));
  }
  t.is(byFile.get('003a_empty.png').error.reason, 'empty');
  t.is(byFile.get('003b_trunc.png').error.reason, 'truncated');
  t.is(byFile.get('missing.png').error.reason, 'not_found');
  t.deepEqual(lines.map((l) => l.file.split('/').pop()), [...lines.map((l) => l.file.split('/').pop()).slice(0, 8).sort(), 'missing.png']);
  t.regex(r.stderr, /3 of 9 image\(s\) failed/);
  // all good: exit 0, plain text
  const ok = await vitnode(['classify', '--model', dir, join(imgs, expected.images[0].file)]);
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stdout, new RegExp(`${expected.images[0].file}: ${expected.images[0].pred} \\(\\d+\\.\\d%\\)`));
});

test('embed / features / preprocess write what the API computes', async (t) => {
  const { dir, imgs } = modelDir(t);
  const files = expected.images.slice(0, 3).map((e) => join(imgs, e.file));
  const model = await createModel(join(dir, 'config.json'), { checkpoint: join(dir, 'model.safetensors') });
  t.teardown(() => model.dispose());
  const x = await preprocess(files, model);

  const emb = join(dir, 'emb.safetensors');
  t.is((await vitnode(['embed', '--model', dir, '--output', emb, ...files])).code, 0);
  close(t, readSafetensors(emb).get('embeddings')!, await model.embed(files), 'embeddings', 1e-6);

  const feats = join(dir, 'f.safetensors');
  const r = await vitnode(['features', '--model', dir, '--out-indices', '0,3', '--output', feats, ...files]);
  t.is(r.code, 0, r.stderr);
  const f = readSafetensors(feats);
  const ref = (await model.forwardIntermediates(x, { indices: [0, 3], intermediatesOnly: true })) as Tensor[];
  close(t, f.get('features.0')!, ref[0], 'features.0', 1e-6);
  close(t, f.get('features.1')!, ref[1], 'features.1', 1e-6);
  t.regex(r.stderr, /blocks\.0 \[3, 96, 8, 8\]/);

  const pre = join(dir, 'x.safetensors');
  t.is((await vitnode(['preprocess', '--model', dir, ...files, '--output', pre])).code, 0);
  close(t, readSafetensors(pre).get('input')!, x, 'preprocess --model', 0);
  const photo = join(FIXTURES, 'preprocess', 'images', 'chelsea.png');
  const cfgFile = join(dir, 'cfg.json');
  const manifest = JSON.parse(readFileSync(join(FIXTURES, 'preprocess', 'manifest.json'), 'utf8'));
  const c = manifest.find((m: { image: string; cfg_name: string }) => m.image === 'images/chelsea.png' && m.cfg_name === 'in224_bicubic_c090');
  writeFileSync(cfgFile, JSON.stringify(c.pretrained_cfg));
  t.is((await vitnode(['preprocess', '--pretrained-cfg', cfgFile, photo, '--output', pre])).code, 0);
  const got = readSafetensors(pre).get('input')!;
  const want = readSafetensors(join(FIXTURES, 'preprocess', c.expected)).get('input')!;
  t.deepEqual(got.shape, [1, 3, 224, 224]);
  close(t, { shape: want.shape, data: got.data }, want, 'preprocess --pretrained-cfg vs timm', 2e-3);

  const usage = await vitnode(['features', '--model', dir, ...files]);
  t.is(usage.code, 2);
});
