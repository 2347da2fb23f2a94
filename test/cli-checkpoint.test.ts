// vitnode describe <checkpoint> and vitnode convert, through the real CLI entry point.
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createModel, Tensor, writeSafetensors } from '../lib/index.ts';
import { readSafetensors } from '../lib/weights/safetensors.ts';
import { writeJaxNpz } from '../scripts/write-npz.ts';
import { BASIC, basicCheckpoint, close, manifest, PARITY, readIo, tmpDir, vitnode } from './helpers.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));


const io = readIo('modern', BASIC.io);
const x = new Tensor(io.get('input')!.data, io.get('input')!.shape);

test('describe <.pth> lists keys, shapes, dtypes, the container and what was skipped', async (t) => {
  const r = await vitnode(['describe', join(PARITY, 'modern', 'vit_basic_deit_style.pth')]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /pth-zip \(state dict under 'model'\), 44 tensors, 164,234 parameters, 44 F32/);
  t.regex(r.stdout, /patch_embed\.proj\.weight\s+F32\s+\[64, 3, 8, 8\]/);
  t.regex(r.stdout, /skipped \(not weights\): epoch .*args/);
  const j = JSON.parse((await vitnode(['describe', join(PARITY, 'modern', 'vit_basic_fp16.pth'), '--json'])).stdout);
  t.is(j.format, 'pth-zip');
  t.is(j.tensors.length, 44);
  t.true(j.tensors.every((e: { dtype: string }) => e.dtype === 'F16'));
});

test('describe names the registry architectures a checkpoint fits (class count and pos_embed differences noted)', async (t) => {
  const dir = tmpDir(t);
  const m = await createModel('deit_tiny_patch16_224', { numClasses: 10, imgSize: 160 });
  const p = join(dir, 'tiny.safetensors');
  writeSafetensors(p, m.stateDict());
  m.dispose();
  const r = await vitnode(['describe', p]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /fits:\n {2}deit_tiny_patch16_224 \(pos_embed has 101 tokens .*; num_classes=10 \(default 1000\)\)/);
  t.regex(r.stdout, /vit_tiny_patch16_224 /);
  t.notRegex(r.stdout, /deit_small/);
});

test('convert .pth (module. prefixes, legacy format, fp16) -> safetensors keeps timm names and dtypes; loads the same', async (t) => {
  const dir = tmpDir(t);
  for (const f of ['vit_basic_module_prefix.pth', 'vit_basic_legacy.pth', 'vit_basic_fp16.pth']) {
    const out = join(dir, `${f}.safetensors`);
    const r = await vitnode(['convert', join(PARITY, 'modern', f), out]);
    t.is(r.code, 0, r.stderr);
    const a = await createModel(BASIC.config, { checkpoint: out });
    const b = await createModel(BASIC.config, { checkpoint: join(PARITY, 'modern', f) });
    close(t, await a.forward(x), await b.forward(x), f, 0);
    a.dispose();
    b.dispose();
  }
  const j = JSON.parse((await vitnode(['describe', join(dir, 'vit_basic_fp16.pth.safetensors'), '--json'])).stdout);
  t.true(j.tensors.every((e: { key: string; dtype: string }) => e.dtype === 'F16' && !e.key.startsWith('module.')));
});

test('convert .npz (big_vision) -> safetensors gives the timm state_dict', async (t) => {
  const dir = tmpDir(t);
  const npz = join(dir, 'w.npz');
  writeJaxNpz(npz, readSafetensors(basicCheckpoint), 'big_vision', BASIC.config.model_args.num_heads as number);
  const out = join(dir, 'w.safetensors');
  t.is((await vitnode(['convert', npz, out])).code, 0);
  const want = readSafetensors(basicCheckpoint);
  const got = readSafetensors(out);
  t.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
  for (const [k, v] of want) close(t, got.get(k)!, v, k, 0);
});

test('convert --model applies the whole filter: linear patch reshaped, pos_embed resampled, head re-initialised', async (t) => {
  const dir = tmpDir(t);
  const seed = manifest('seed').find((c) => c.name === 'seed_linear_patch')!;
  const cfg = join(dir, 'config.json');
  writeFileSync(cfg, JSON.stringify(seed.config));
  const out = join(dir, 'o.safetensors');
  const r = await vitnode(['convert', join(PARITY, 'seed', 'seed_linear_patch_deit_style.pth'), out, '--model', cfg, '--img-size', '48', '--num-classes', '3']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /adapted: pos_embed, patch_embed\.proj\.weight/);
  t.regex(r.stderr, /re-initialised \(class count differs\): head\.weight, head\.bias/);
  const got = readSafetensors(out);
  t.deepEqual(got.get('patch_embed.proj.weight')!.shape, [64, 3, 8, 8]);
  t.deepEqual(got.get('pos_embed')!.shape, [1, 37, 64]);
  t.deepEqual(got.get('head.weight')!.shape, [3, 64]);
  t.is((await vitnode(['convert', join(PARITY, 'modern', 'vit_basic.pth'), out, '--num-classes', '3'])).code, 2, 'options without --model: usage');
  t.is((await vitnode(['convert', join(PARITY, 'modern', 'vit_basic.pth'), join(dir, 'o.bin')])).code, 2);
  const bad = await vitnode(['convert', join(ROOT, 'test/fixtures/pth/hostile_os_system.pth'), out]);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /VIT_E_CHECKPOINT.*posix\.system/);
});
