// Google JAX .npz checkpoints of hybrid ViTs (ResNetV2 backbone, R50+ViT-B_16.npz layout): small checkpoints that
// timm's own load_pretrained read (scripts/make-npz-fixtures.py), loaded by vitnode and compared with timm's
// outputs at the fixtures' tolerance; incomplete files fail naming the missing array; timm's resample_patch_embed.
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createModel, Tensor } from '../lib/index.ts';
import { ByteFile } from '../lib/weights/byte-file.ts';
import { openCheckpoint } from '../lib/weights/checkpoint.ts';
import { pinv } from '../lib/weights/pinv.ts';
import { readSafetensors } from '../lib/weights/safetensors.ts';
import { ZipArchive } from '../lib/weights/zip.ts';
import { zipBytes } from '../scripts/write-npz.ts';
import { BASIC, basicCheckpoint, close, FIXTURES, randn, tmpDir, type ParityCase } from './helpers.ts';

const DIR = join(FIXTURES, 'npz-hybrid');
type Case = Omit<ParityCase, 'weights'> & { npz: string };
const CASES: Case[] = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8'));
const byName = (n: string) => CASES.find((c) => c.name === n)!;

for (const c of CASES) {
  test(`${c.name}: logits and features match timm after timm's own load of the .npz (${c.note})`, async (t) => {
    const io = readSafetensors(join(DIR, c.io));
    const m = await createModel(c.config, { checkpoint: join(DIR, c.npz) });
    t.teardown(() => m.dispose());
    const xi = io.get('input')!;
    const x = new Tensor(xi.data, xi.shape);
    let checked = 0;
    for (const o of c.outputs) {
      const want = io.get(o)!;
      if (o === 'logits') close(t, await m.forward(x), want, 'logits');
      else if (o === 'features') close(t, await m.forwardFeatures(x), want, 'features');
      else {
        close(t, m.getWeight(o), want, `adapted ${o}`);
        t.true(m.loadReport!.adapted.includes(o), `${o} reported as adapted`);
      }
      checked++;
    }
    t.is(checked, c.outputs.length);
    t.true(c.outputs.includes('logits') && c.outputs.includes('features'));
  });
}

test('every array of the hybrid .npz files is mapped; stem-only backbones have no `stem.` level (timm keys)', (t) => {
  for (const [file, stemKey, units] of [['r_stages.npz', 'patch_embed.backbone.stem.conv.weight', 3], ['r_stem_only.npz', 'patch_embed.backbone.conv.weight', 0]] as const) {
    const c = openCheckpoint(join(DIR, file));
    try {
      t.is(c.format, 'npz-jax');
      t.deepEqual(c.skipped, [], `${file}: nothing left unmapped`);
      t.deepEqual(c.tensors.get(stemKey)!.shape, [16, 3, 7, 7], `${file}: conv_root HWIO -> OIHW`);
      const blocks = new Set([...c.tensors.keys()].map((k) => /^patch_embed\.backbone\.stages\.\d+\.blocks\.\d+/.exec(k)?.[0]).filter(Boolean));
      t.is(blocks.size, units, `${file}: block{i}/unit{j} -> stages.{i-1}.blocks.{j-1}`);
    } finally {
      c.close();
    }
  }
  const c = openCheckpoint(join(DIR, 'r_stages.npz'));
  t.teardown(() => c.close());
  t.deepEqual(c.tensors.get('patch_embed.backbone.stages.1.blocks.0.downsample.conv.weight')!.shape, [64, 32, 1, 1]);
  t.false(c.tensors.has('patch_embed.backbone.stages.0.blocks.1.downsample.conv.weight'), 'unit2 has no conv_proj');
});

/** The fixture .npz without the arrays `drop` accepts (a copy in a temp folder). */
function without(t: import('ava').ExecutionContext, npz: string, drop: (name: string) => boolean): string {
  const file = new ByteFile(join(DIR, npz));
  try {
    const zip = new ZipArchive(file);
    const kept = [...zip.entries.values()].filter((e) => !drop(e.name.slice(0, -'.npy'.length)));
    t.true(kept.length < zip.entries.size, 'something was dropped');
    const p = join(tmpDir(t), npz);
    writeFileSync(p, zipBytes(kept.map((e) => [e.name, zip.readRange(e, 0, e.size)]), false));
    return p;
  } finally {
    file.close();
  }
}

for (const [npz, missing] of [
  ['r_stages.npz', 'block1/unit1/gn2/scale'],
  ['r_stages.npz', 'block2/unit1/conv_proj/kernel'],
  ['r_stages.npz', 'conv_root/kernel'],
  ['r_stem_only.npz', 'gn_root/bias'],
] as const) {
  test(`${npz} without '${missing}': a load error naming the array`, async (t) => {
    const p = without(t, npz, (n) => n === missing);
    const c = CASES.find((x) => x.npz === npz)!;
    await t.throwsAsync(createModel(c.config, { checkpoint: p }), { code: 'VIT_E_CHECKPOINT', message: new RegExp(`JAX checkpoint lacks '${missing}'`) });
  });
}

test('an .npz without a whole unit: the strict loader names the missing timm keys', async (t) => {
  const p = without(t, 'r_stages.npz', (n) => n.startsWith('block1/unit2/'));
  const e = await t.throwsAsync(createModel(byName('r_stages').config, { checkpoint: p }), { code: 'VIT_E_CHECKPOINT' });
  t.regex(e!.message, /missing key 'patch_embed\.backbone\.stages\.0\.blocks\.1\.conv1\.weight'/);
  t.regex(e!.message, /missing key 'patch_embed\.backbone\.stages\.0\.blocks\.1\.norm3\.bias'/);
});

test('a stem-only .npz into a model with stages: the stem keys do not fit, and the loader says so', async (t) => {
  const c = byName('r_stages');
  const e = await t.throwsAsync(createModel(c.config, { checkpoint: join(DIR, 'r_stem_only.npz') }), { code: 'VIT_E_CHECKPOINT' });
  t.regex(e!.message, /unexpected key 'patch_embed\.backbone\.conv\.weight'/);
  t.regex(e!.message, /missing key 'patch_embed\.backbone\.stem\.conv\.weight'/);
});

test('pinv: the four Moore-Penrose conditions, full rank both ways and rank deficient', (t) => {
  const mul = (a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number) => {
    const c = new Float64Array(m * n);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let l = 0; l < k; l++) c[i * n + j] += a[i * k + l] * b[l * n + j];
    return c;
  };
  const tr = (a: ArrayLike<number>, m: number, n: number) => Float64Array.from({ length: m * n }, (_, i) => a[(i % m) * n + Math.floor(i / m)]);
  const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((d, v, i) => Math.max(d, Math.abs(v - b[i])), 0);
  const lowRank = mul(randn(7 * 2, 5), randn(2 * 5, 6), 7, 2, 5); // 7 x 5, rank 2
  for (const [a, m, n] of [[randn(6 * 4, 1), 6, 4], [randn(3 * 8, 2), 3, 8], [lowRank, 7, 5]] as const) {
    const p = pinv(a, m, n);
    t.true(maxDiff(mul(mul(a, p, m, n, m), a, m, m, n), a) < 1e-9, `A P A = A (${m}x${n})`);
    t.true(maxDiff(mul(mul(p, a, n, m, n), p, n, n, m), p) < 1e-9, `P A P = P (${m}x${n})`);
    const ap = mul(a, p, m, n, m);
    const pa = mul(p, a, n, m, n);
    t.true(maxDiff(ap, tr(ap, m, m)) < 1e-9 && maxDiff(pa, tr(pa, n, n)) < 1e-9, `A P and P A symmetric (${m}x${n})`);
  }
});

test('a patch embedding of another patch size outside .npz files is a mismatch that says why', async (t) => {
  const cfg = structuredClone(BASIC.config);
  const p = cfg.model_args.patch_size as number;
  cfg.model_args.patch_size = p / 2;
  const e = await t.throwsAsync(createModel(cfg, { checkpoint: basicCheckpoint }), { code: 'VIT_E_CHECKPOINT' });
  t.regex(e!.message, /'patch_embed\.proj\.weight'.*another patch size.*\.npz checkpoints only/);
});
