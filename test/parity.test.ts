// Numerical parity with timm: every case (hybrids included) of test/fixtures/parity/{modern,seed} through the public API,
// every output the case lists, at the fixtures' float32 tolerance max|got - want| <= 1e-4 * max(1, max|want|).
import test from 'ava';
import { join } from 'node:path';
import { createModel, readSafetensors, Tensor, writeSafetensors } from '../lib/index.ts';
import { argmax, close, manifest, PARITY, readIo, relErr, tmpDir, writeRawSafetensors } from './helpers.ts';
import { checkCase } from './parity-check.ts';

for (const era of ['modern', 'seed'] as const) {
  for (const c of manifest(era)) {
    if (!c.weights.endsWith('.safetensors')) {
      test.todo(`${era}/${c.name}: ${c.weights} — PyTorch .pth checkpoints are a later issue`);
      continue;
    }
    test(`${era}/${c.name}`, (t) => checkCase(t, join(PARITY, era), c));
  }
}

// The same weights as PyTorch checkpoints (zip, legacy non-zip, DeiT {'model': ...} + extra entries,
// {'state_dict': ...} with 'module.' keys): the safetensors case's outputs at the same tolerance. fp16: test/checkpoints.test.ts.
for (const [era, name, file] of [
  ['modern', 'vit_basic', 'vit_basic.pth'],
  ['modern', 'vit_basic', 'vit_basic_legacy.pth'],
  ['modern', 'vit_basic', 'vit_basic_deit_style.pth'],
  ['modern', 'vit_basic', 'vit_basic_module_prefix.pth'],
  ['seed', 'seed_linear_patch', 'seed_linear_patch_deit_style.pth'],
] as const) {
  const c = manifest(era).find((x) => x.name === name)!;
  test(`${era}/${file}`, (t) => checkCase(t, join(PARITY, era), { ...c, weights: file }));
}

// ---- reduced-precision checkpoints --------------------------------------------------------------------------

const BASIC = manifest('modern').find((c) => c.name === 'vit_basic')!;

test('bf16 checkpoint: loads exactly (== its values widened to f32) and stays near the f32 model', async (t) => {
  const dir = tmpDir(t);
  const io = readIo('modern', BASIC.io);
  const x = new Tensor(io.get('input')!.data, io.get('input')!.shape);
  const want = io.get('logits')!;
  const bf16Path = join(PARITY, 'modern', 'vit_basic_bf16.safetensors');
  // The file really is bf16 (2 bytes per value).
  const raw = readSafetensors(bf16Path);
  t.is(raw.size, readSafetensors(join(PARITY, 'modern', BASIC.weights)).size);

  // 1. Exactness of the bf16 path: bf16 -> f32 widening is exact, so a model from the same values stored as f32
  //    must give the same logits (same kernels, same inputs) up to float32 run-to-run noise.
  const widened = join(dir, 'widened.safetensors');
  writeSafetensors(widened, [...raw]);
  const mBf = await createModel(BASIC.config, { checkpoint: bf16Path });
  const mWide = await createModel(BASIC.config, { checkpoint: widened });
  t.teardown(() => { mBf.dispose(); mWide.dispose(); });
  const yBf = await mBf.forward(x);
  const yWide = await mWide.forward(x);
  t.true(relErr(yBf.data, yWide.data) <= 1e-6, `bf16 load vs widened f32: ${relErr(yBf.data, yWide.data)}`);
  for (const [k, v] of raw) close(t, mBf.getWeight(k), v, `bf16 weight ${k}`, 0);

  // 2. Against timm's f32 logits: bf16 keeps 8 significant bits (relative rounding <= 2^-9 ~ 2e-3 per weight);
  //    through 3 blocks this moves logits by ~1e-2 of their scale. Bound: the fixtures' reduced-precision
  //    tolerance 2e-2 * max(1, max|expected|), plus the same top-1 class per image. It must also really differ
  //    from f32 (otherwise the file was not bf16 at all).
  const e = relErr(yBf.data, want.data);
  t.true(e <= 2e-2, `bf16 vs f32 logits: ${e}`);
  t.true(e > 1e-6, 'bf16 logits differ from f32 logits');
  for (let b = 0; b < want.shape[0]; b++) t.is(argmax(yBf.data, b * 10, 10), argmax(want.data, b * 10, 10));
});

/** float32 -> IEEE half (round to nearest even), and an independent decoder for the reference. */
function toHalf(f: number): number {
  const buf = new DataView(new ArrayBuffer(4));
  buf.setFloat32(0, f);
  const x = buf.getUint32(0);
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h;
}
const fromHalf = (h: number) => {
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  const v = e === 0 ? m / 1024 * 2 ** -14 : e === 31 ? (m ? NaN : Infinity) : (1 + m / 1024) * 2 ** (e - 15);
  return h & 0x8000 ? -v : v;
};

test('toHalf / fromHalf reference round-trips known values', (t) => {
  t.is(toHalf(1), 0x3c00);
  t.is(toHalf(-2), 0xc000);
  t.is(toHalf(65504), 0x7bff);
  t.is(fromHalf(0x3555), 0.333251953125);
  t.is(fromHalf(toHalf(2 ** -24)), 2 ** -24); // smallest subnormal
  t.is(fromHalf(toHalf(1 / 3)), 0.333251953125);
});

test('f16 and f64 checkpoints load exactly (== the same values stored as f32)', async (t) => {
  const dir = tmpDir(t);
  const io = readIo('modern', BASIC.io);
  const x = new Tensor(io.get('input')!.data, io.get('input')!.shape);
  const f32 = readSafetensors(join(PARITY, 'modern', BASIC.weights));
  const entries = [...f32];
  const halfs = entries.map(([k, v]) => [k, Uint16Array.from(v.data, toHalf)] as const);
  const f16Path = join(dir, 'f16.safetensors');
  writeRawSafetensors(f16Path, halfs.map(([k, h]) => [k, 'F16', f32.get(k)!.shape, new Uint8Array(h.buffer)]));
  const f16AsF32 = join(dir, 'f16-as-f32.safetensors');
  writeSafetensors(f16AsF32, halfs.map(([k, h]) => [k, { shape: f32.get(k)!.shape, data: Float32Array.from(h, fromHalf) }]));
  const f64Path = join(dir, 'f64.safetensors');
  writeRawSafetensors(f64Path, entries.map(([k, v]) => [k, 'F64', v.shape, new Uint8Array(Float64Array.from(v.data).buffer)]));

  const m16 = await createModel(BASIC.config, { checkpoint: f16Path });
  const m16r = await createModel(BASIC.config, { checkpoint: f16AsF32 });
  const m64 = await createModel(BASIC.config, { checkpoint: f64Path });
  t.teardown(() => { m16.dispose(); m16r.dispose(); m64.dispose(); });
  for (const [k] of entries) {
    close(t, m16.getWeight(k), { shape: f32.get(k)!.shape, data: Float32Array.from(halfs.find((h) => h[0] === k)![1], fromHalf) }, `f16 ${k}`, 0);
    close(t, m64.getWeight(k), f32.get(k)!, `f64 ${k}`, 0);
  }
  const y16 = await m16.forward(x);
  close(t, y16, await m16r.forward(x), 'f16 vs f16-values-in-f32', 1e-6);
  close(t, await m64.forward(x), io.get('logits')!, 'f64 checkpoint vs timm');
  // f16 keeps 11 significant bits: close to timm's f32 logits, same classes.
  const want = io.get('logits')!;
  t.true(relErr(y16.data, want.data) <= 2e-2);
  for (let b = 0; b < 2; b++) t.is(argmax(y16.data, b * 10, 10), argmax(want.data, b * 10, 10));
});
