// A newcomer's first hour, through the API (issue 19): model labels name their source, checkpoint errors lead with a
// diagnosis, missing paths are I/O errors, random weights warn once, unknown option keys are refused alike,
// stateDict() is timm's, describe ranks by shape agreement, doctor names the build, the doc snippets type-check.
import test from 'ava';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createBatcher, createModel, preprocess, resolveSource, Tensor, VitError, writeSafetensors } from '../lib/index.ts';
import { describeBuild } from '../lib/build-info.ts';
import { readSafetensors } from '../lib/weights/safetensors.ts';
import { fitArchitectures } from '../lib/weights/fit.ts';
import { tmpDir } from './helpers.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIGITS = join(ROOT, 'examples', 'digits');
const IMG = join(DIGITS, 'images', '000_label2.png');
const run = promisify(execFile);

async function code(t: import('ava').ExecutionContext, p: Promise<unknown>, c: string, msg?: RegExp): Promise<VitError> {
  const err = (await t.throwsAsync(p)) as VitError;
  t.true(err instanceof VitError, `a VitError: ${err?.message}`);
  t.is(err.code, c as VitError['code'], err.message);
  if (msg) t.regex(err.message, msg);
  return err;
}

/** Warnings emitted while `fn` runs (process 'warning' events, after the next tick). */
async function warnings(fn: () => Promise<unknown>): Promise<(Error & { code?: string })[]> {
  const seen: (Error & { code?: string })[] = [];
  const on = (w: Error) => seen.push(w);
  process.on('warning', on);
  try {
    await fn();
    await new Promise((r) => setTimeout(r, 20));
  } finally {
    process.off('warning', on);
  }
  return seen;
}

test('labels name the source: folder / config file with custom model_args, never a tag that was not loaded', async (t) => {
  const folder = await createModel(DIGITS);
  t.is(folder.name, 'vit_base_patch16_224');
  t.is(folder.origin?.kind, 'folder');
  t.deepEqual(folder.origin?.customArgs, ['img_size', 'patch_size', 'embed_dim', 'depth', 'num_heads']);
  t.is(folder.origin?.tag, null);
  t.regex(folder.label, /^vit_base_patch16_224 \(folder .*examples\/digits, custom model_args: img_size, patch_size, embed_dim, depth, num_heads\)$/);
  folder.dispose();
  const byName = await createModel('deit_tiny_patch16_224.fb_in1k', { seed: 1 });
  t.is(byName.label, 'deit_tiny_patch16_224 (random weights)', 'no tag without its weights');
  byName.dispose();
});

test('a config.json inside a model folder loads the folder weights; loadReport always says what was loaded', async (t) => {
  const dir = tmpDir(t);
  for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(DIGITS, f), join(dir, f));
  const m = await createModel(join(dir, 'config.json'));
  t.true(m.loadReport.pretrained);
  t.is(m.loadReport.checkpoint, join(dir, 'model.safetensors'));
  t.is(m.origin?.kind, 'config');
  const [[top]] = await m.classify(IMG, { topK: 1 });
  t.is(top.label, '2');
  m.dispose();
  const r = await createModel(join(dir, 'config.json'), { pretrained: false });
  t.false(r.loadReport.pretrained);
  t.regex(r.label, /random weights/);
  r.dispose();
});

test('random weights warn once per model (VIT_W_RANDOM_WEIGHTS); seed or pretrained: false is intentional', async (t) => {
  const first = await warnings(async () => (await createModel('vit_tiny_patch16_224', { threads: 1 })).dispose());
  t.is(first.length, 1);
  t.is(first[0].code, 'VIT_W_RANDOM_WEIGHTS');
  t.regex(first[0].message, /^vit_tiny_patch16_224 \(random weights\): no checkpoint/);
  t.deepEqual(await warnings(async () => (await createModel('vit_tiny_patch16_224', { threads: 1 })).dispose()), [], 'once');
  t.deepEqual(await warnings(async () => (await createModel('vit_small_patch16_224', { seed: 3 })).dispose()), []);
  t.deepEqual(await warnings(async () => (await createModel(DIGITS)).dispose()), [], 'weights loaded: no warning');
});

test('a checkpoint that does not fit: one-line diagnosis, at most 10 problems and a count, the full list on the error', async (t) => {
  const err = await code(t, createModel('deit_tiny_patch16_224', { checkpoint: join(DIGITS, 'model.safetensors') }), 'VIT_E_CHECKPOINT');
  const lines = err.message.split('\n');
  t.regex(lines[0], /^checkpoint does not fit the model: the checkpoint is ViT: depth 4, width 96, mlp 384, patch 4, 10 classes, 65 tokens; the model expects ViT: depth 12, width 192, 3 heads, mlp 768, patch 16, 1000 classes, 197 tokens \(differs: depth 4 vs 12, width 96 vs 192/);
  const e = err as VitError & { problems: string[]; diagnosis: string };
  t.is(e.diagnosis, lines[0]);
  t.true(e.problems.length > 100, `${e.problems.length} problems`);
  t.regex(lines[1], new RegExp(`^${e.problems.length} problems:$`));
  t.is(lines.length, 2 + 10 + 1);
  t.regex(lines.at(-1)!, new RegExp(`and ${e.problems.length - 10} more`));
  t.true(err.message.length < 2000, `${err.message.length} characters`);
});

test('path-like sources that do not exist are VIT_E_IO naming the argument; a weights file is not a model', async (t) => {
  for (const src of ['./doesnotexist/', 'nope.pth', 'models/vit.json', '/no/such/dir/config.json']) {
    await code(t, createModel(src), 'VIT_E_IO', new RegExp(`no such file or directory: '${src.replace(/[.*/]/g, '\\$&')}'`));
  }
  await code(t, createModel('vit_bse_patch16_224'), 'VIT_E_UNKNOWN_MODEL', /Unknown model/);
  // a registry name whose tag looks like a file extension stays a name
  const beit = resolveSource('beit3_base_patch16_224.pt');
  t.deepEqual([beit.name, beit.tag], ['beit3_base_patch16_224', 'pt']);
  await code(t, createModel(join(DIGITS, 'model.safetensors')), 'VIT_E_ARGUMENT', /is a weights file.*checkpoint/);
});

test.serial('HF_HUB_OFFLINE cache misses say offline and what to download, not that the repository has no weights', async (t) => {
  const cache = tmpDir(t);
  const saved = { HF_HUB_CACHE: process.env.HF_HUB_CACHE, HF_HUB_OFFLINE: process.env.HF_HUB_OFFLINE };
  t.teardown(() => Object.assign(process.env, saved));
  process.env.HF_HUB_CACHE = cache;
  process.env.HF_HUB_OFFLINE = '1';
  await code(t, createModel('hf-hub:timm/not_cached'), 'VIT_E_NOT_FOUND', /offline .*huggingface-cli download timm\/not_cached config\.json/);
  // config cached, weights not
  const snap = join(cache, 'models--timm--half_cached', 'snapshots', 'c'.repeat(40));
  mkdirSync(snap, { recursive: true });
  mkdirSync(join(cache, 'models--timm--half_cached', 'refs'));
  writeFileSync(join(cache, 'models--timm--half_cached', 'refs', 'main'), 'c'.repeat(40));
  copyFileSync(join(DIGITS, 'config.json'), join(snap, 'config.json'));
  const err = await code(t, createModel('hf-hub:timm/half_cached'), 'VIT_E_NOT_FOUND', /offline \(HF_HUB_OFFLINE is set\) and its weights .* are not in the cache/);
  t.regex(err.message, /huggingface-cli download timm\/half_cached config\.json model\.safetensors/);
  t.notRegex(err.message, /no weights .* in the repository/);
});

test('unknown option keys are refused everywhere alike, with the closest key; no doubled prefix', async (t) => {
  const err = await code(t, createModel('deit_tiny_patch16_224', { thread: 2 } as never), 'VIT_E_ARGUMENT');
  t.is(err.message, "invalid createModel options: unknown option 'thread' (did you mean threads?)");
  const m = await createModel(DIGITS);
  t.teardown(() => m.dispose());
  await code(t, m.classify(IMG, { topk: 1 } as never), 'VIT_E_ARGUMENT', /^invalid classify options: unknown option 'topk' \(did you mean topK\?\)$/);
  await code(t, m.embed(IMG, { batchsize: 2 } as never), 'VIT_E_ARGUMENT', /unknown option 'batchsize' \(did you mean batchSize\?\)/);
  await code(t, m.features(IMG, { outindices: 2 } as never), 'VIT_E_ARGUMENT', /did you mean outIndices/);
  await code(t, preprocess(IMG, m, { autoorient: false } as never), 'VIT_E_ARGUMENT', /did you mean autoOrient/);
  const x = new Tensor(new Float32Array(3 * 32 * 32), [1, 3, 32, 32]);
  await code(t, m.forwardHead(await m.forwardFeatures(x), { prelogits: true } as never), 'VIT_E_ARGUMENT', /did you mean preLogits/);
  await code(t, m.run(x, { outputs: ['logits'], intermediate: {} } as never), 'VIT_E_ARGUMENT', /did you mean intermediates/);
  await code(t, m.run(x, { outputs: ['logit'] } as never), 'VIT_E_ARGUMENT', /outputs\.0/);
  t.throws(() => createBatcher(m, { maxBatch: 4 } as never), { message: /did you mean maxBatchSize/ });
  const b = createBatcher(m);
  await code(t, b.classify(IMG, { topk: 1 } as never), 'VIT_E_ARGUMENT', /did you mean topK/);
  await b.close();
});

test("stateDict() is timm's state_dict (key -> tensor); writeSafetensors(path, model.stateDict()) round-trips", async (t) => {
  const m = await createModel('deit_tiny_patch16_224', { seed: 5, threads: 1 });
  t.teardown(() => m.dispose());
  const sd = m.stateDict();
  t.true(sd instanceof Map);
  t.deepEqual([...sd.keys()], m.stateDictShapes().map(([k]) => k));
  t.true(sd.get('head.weight') instanceof Tensor);
  t.deepEqual(sd.get('head.weight')!.shape, [1000, 192]);
  const p = join(tmpDir(t), 'sd.safetensors');
  writeSafetensors(p, sd);
  const back = readSafetensors(p);
  t.deepEqual([...back.get('blocks.3.mlp.fc1.bias')!.data], [...sd.get('blocks.3.mlp.fc1.bias')!.data]);
  const m2 = await createModel('deit_tiny_patch16_224', { checkpoint: p, threads: 1 });
  t.is(m2.loadReport.loaded, sd.size);
  m2.dispose();
});

test('describe ranking: candidates by shape agreement and structure, not by one matching key', (t) => {
  const shapes = new Map([...readSafetensors(join(DIGITS, 'model.safetensors'))].map(([k, v]) => [k, v.shape]));
  const fits = fitArchitectures(shapes, 3);
  for (const f of fits) {
    t.false(f.exact);
    t.false(f.differs.some((d) => d.startsWith('family') || / only in /.test(d)), `${f.name}: ${f.differs.join(', ')}`);
  }
});

test('doctor: which build this is, and how a CPU-only build gets CUDA', (t) => {
  const dir = tmpDir(t);
  const mk = (sub: string, files: Record<string, string>) => {
    mkdirSync(join(dir, sub, 'build', 'Release'), { recursive: true });
    for (const [f, c] of Object.entries(files)) writeFileSync(join(dir, sub, 'build', f), c);
    return join(dir, sub, 'build', 'Release', 'vitnode.node');
  };
  const gyp = describeBuild(mk('gyp', { 'config.gypi': '{}', Makefile: '' }));
  t.is(gyp.kind, 'node-gyp');
  t.regex(gyp.noCuda, /CPU-only fallback build \(binding\.gyp never compiles CUDA, whether or not nvcc is installed\); for CUDA/);
  const off = describeBuild(mk('cmake', { 'CMakeCache.txt': 'VIT_WITH_CUDA:BOOL=OFF\n' }));
  t.is(off.kind, 'cmake-js');
  t.regex(off.noCuda, /VIT_WITH_CUDA=OFF/);
  t.is(describeBuild(mk('cmake2', { 'CMakeCache.txt': 'VIT_WITH_CUDA:BOOL=ON\n' })).noCuda.includes('found no nvcc'), true);
  t.is(describeBuild(join(dir, 'prebuilds', 'linux-x64', 'vitnode.glibc.node')).kind, 'prebuild');
});

test("README and docs snippets type-check with strict tsc; typed overloads (intermediatesOnly, run's outputs)", async (t) => {
  const dir = tmpDir(t);
  const good = join(dir, 'good.md');
  writeFileSync(good, [
    '```ts',
    "import { createModel, Tensor } from 'vitnode';",
    "const m = await createModel('deit_tiny_patch16_224', { seed: 0 });",
    'const x = Tensor.fromFloat32(new Float32Array(3 * 224 * 224), [1, 3, 224, 224]);',
    'const maps: Tensor[] = await m.forwardIntermediates(x, { intermediatesOnly: true });',
    'const both: { features: Tensor; intermediates: Tensor[] } = await m.forwardIntermediates(x);',
    "const r = await m.run(x, { outputs: ['logits', 'intermediates'] });",
    'const l: Tensor = r.logits;',
    'const i: Tensor[] = r.intermediates;',
    '// @ts-expect-error features was not asked for',
    'r.features;',
    'console.log(maps, both, l, i);',
    '```',
  ].join('\n'));
  const ok = await run(process.execPath, [join(ROOT, 'scripts', 'check-snippets.mjs'), good], { cwd: ROOT });
  t.regex(ok.stdout, /README_md_0_line\d+\.ts/);
  const bad = join(dir, 'bad.md');
  writeFileSync(bad, "```ts\nimport { createModel } from 'vitnode';\nconst m = await createModel('x', { thread: 2 });\n```\n");
  const err = (await t.throwsAsync(run(process.execPath, [join(ROOT, 'scripts', 'check-snippets.mjs'), bad], { cwd: ROOT }))) as Error & { stderr: string };
  t.regex(err.stderr, /bad_md_0_line2\.ts.*'thread' does not exist/s);
});

test("the package loads with require() (exports.require, Node >= 20.19)", async (t) => {
  const dir = tmpDir(t);
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules', 'vitnode'));
  const r = await run(process.execPath, ['-e', "const v = require('vitnode'); console.log(typeof v.createModel)"], { cwd: dir });
  t.is(r.stdout.trim(), 'function');
});

test('npm pack refuses to pack without prebuilds (scripts/prepack.mjs), unless asked to pack from source', async (t) => {
  const dir = tmpDir(t);
  mkdirSync(join(dir, 'scripts'));
  copyFileSync(join(ROOT, 'scripts', 'prepack.mjs'), join(dir, 'scripts', 'prepack.mjs'));
  const pack = (env: Record<string, string> = {}) => run(process.execPath, [join(dir, 'scripts', 'prepack.mjs')], { env: { ...process.env, ...env } });
  const e1 = (await t.throwsAsync(pack())) as Error & { stderr: string };
  t.regex(e1.stderr, /dist\/ is missing.*npm run prebuildify/s);
  mkdirSync(join(dir, 'dist'));
  writeFileSync(join(dir, 'dist', 'index.js'), '');
  const e2 = (await t.throwsAsync(pack())) as Error & { stderr: string };
  t.regex(e2.stderr, /prebuilds\/ has no addon: run `npm run prebuildify` first/);
  await t.notThrowsAsync(pack({ VITNODE_PACK_FROM_SOURCE: '1' }));
  mkdirSync(join(dir, 'prebuilds', 'linux-x64'), { recursive: true });
  writeFileSync(join(dir, 'prebuilds', 'linux-x64', 'vitnode.glibc.node'), '');
  await t.notThrowsAsync(pack());
});
