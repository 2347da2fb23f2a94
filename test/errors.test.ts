// Bad input gives a typed VitError, and the same process keeps working: after every error a fresh model must
// still reproduce timm's logits (assertStillWorks).
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createModel, readSafetensors, Tensor, VitError, writeSafetensors, type VitErrorCode } from '../lib/index.ts';
import { assertStillWorks, BASIC, basicCheckpoint, close, PARITY, readIo, tmpDir } from './helpers.ts';

const io = readIo('modern', BASIC.io);
const input = io.get('input')!;
const x = () => new Tensor(input.data, input.shape);
const basic = () => createModel(BASIC.config, { checkpoint: basicCheckpoint });

async function rejects(t: import('ava').ExecutionContext, p: Promise<unknown> | (() => unknown), code: VitErrorCode, msg?: RegExp) {
  const err = typeof p === 'function' ? t.throws(p as () => unknown) : await t.throwsAsync(p as Promise<unknown>);
  t.true(err instanceof VitError, `a VitError, got ${err?.constructor?.name}: ${err?.message}`);
  t.is((err as VitError).code, code, err?.message);
  if (msg) t.regex(err!.message, msg);
  return err as VitError;
}

test('wrong rank', async (t) => {
  const m = await basic();
  t.teardown(() => m.dispose());
  await rejects(t, m.forward(new Tensor(input.data.slice(0, 3 * 32 * 32), [3, 32, 32])), 'VIT_E_SHAPE', /rank 3/);
  await rejects(t, m.forward(new Tensor(input.data, [2, 3, 32, 32, 1])), 'VIT_E_SHAPE', /rank 5/);
  await rejects(t, m.forwardFeatures(new Tensor(input.data, [6, 1024])), 'VIT_E_SHAPE');
  // the model that saw the errors still works
  close(t, await m.forward(x()), io.get('logits')!, 'same model after errors');
  await assertStillWorks(t);
});

test('wrong channels', async (t) => {
  const m = await basic();
  t.teardown(() => m.dispose());
  await rejects(t, m.forward(new Tensor(input.data.slice(0, 2 * 32 * 32), [2, 1, 32, 32])), 'VIT_E_SHAPE', /3 input channels, got 1/);
  await rejects(t, m.forward(new Tensor(new Float32Array(4 * 32 * 32), [1, 4, 32, 32])), 'VIT_E_SHAPE', /got 4/);
  close(t, await m.forward(x()), io.get('logits')!, 'same model after errors');
  await assertStillWorks(t);
});

test('wrong dtype: Float64Array / plain arrays / non-Tensor inputs', async (t) => {
  const m = await basic();
  t.teardown(() => m.dispose());
  await rejects(t, () => Tensor.fromFloat32(Float64Array.from(input.data) as never, input.shape), 'VIT_E_DTYPE', /Float64Array/);
  await rejects(t, () => Tensor.fromFloat32(Array.from(input.data) as never, input.shape), 'VIT_E_DTYPE', /Array/);
  await rejects(t, () => Tensor.fromFloat32(input.data, [2, 3, 32, 31]), 'VIT_E_SHAPE', /needs 5952 values/);
  await rejects(t, m.forward({ data: Float64Array.from(input.data), shape: input.shape } as never), 'VIT_E_ARGUMENT', /must be a Tensor/);
  await rejects(t, m.forwardHead({ data: new Float32Array(2 * 17 * 64), shape: [2, 17, 64] } as never), 'VIT_E_ARGUMENT');
  close(t, await m.forward(x()), io.get('logits')!, 'same model after errors');
  await assertStillWorks(t);
});

test('image size: wrong size for a fixed model, not a multiple of the patch without dynamic padding', async (t) => {
  const dyn = manifestCase('vit_dynamic_up');
  const fixed = await basic();
  const dynamic = await createModel(dyn.config, { checkpoint: join(PARITY, 'modern', dyn.weights) });
  t.teardown(() => { fixed.dispose(); dynamic.dispose(); });
  await rejects(t, fixed.forward(new Tensor(new Float32Array(3 * 40 * 40), [1, 3, 40, 40])), 'VIT_E_SHAPE', /expects 32x32 images, got 40x40/);
  await rejects(t, fixed.forward(new Tensor(new Float32Array(3 * 36 * 36), [1, 3, 36, 36])), 'VIT_E_SHAPE');
  await rejects(t, dynamic.forward(new Tensor(new Float32Array(3 * 36 * 40), [1, 3, 36, 40])), 'VIT_E_SHAPE', /not a multiple of the patch size 8/);
  await rejects(t, dynamic.forward(new Tensor(new Float32Array(3 * 4 * 8), [1, 3, 4, 8])), 'VIT_E_SHAPE', /not a multiple/);
  const padded = await createModel(dyn.config, { checkpoint: join(PARITY, 'modern', dyn.weights), dynamicImgPad: true });
  t.teardown(() => padded.dispose());
  await rejects(t, padded.forward(new Tensor(new Float32Array(3 * 4 * 8), [1, 3, 4, 8])), 'VIT_E_SHAPE', /smaller than one 8px patch/);
  await rejects(t, fixed.forwardHead(new Tensor(new Float32Array(2 * 16 * 64), [2, 16, 64])), 'VIT_E_SHAPE', /\[B, 17, 64\]/);
  // the dynamic model still gives timm's numbers on its own fixture
  const dio = readIo('modern', dyn.io);
  close(t, await dynamic.forward(new Tensor(dio.get('input')!.data, dio.get('input')!.shape)), dio.get('logits')!, 'dynamic after errors');
  await assertStillWorks(t);
});

function manifestCase(name: string) {
  return (JSON.parse(readFileSync(join(PARITY, 'modern', 'manifest.json'), 'utf8')) as (typeof BASIC)[]).find((c) => c.name === name)!;
}

test('unknown model name, with suggestions', async (t) => {
  const err = await rejects(t, createModel('vit_base_patch16_22'), 'VIT_E_UNKNOWN_MODEL', /Did you mean/);
  t.true((err as unknown as { suggestions: string[] }).suggestions.includes('vit_base_patch16_224'));
  await rejects(t, createModel('legacy:deit_tiny_patch16_224'), 'VIT_E_UNKNOWN_MODEL');
  await rejects(t, createModel('vit_base_patch16_224.no_such_tag'), 'VIT_E_UNKNOWN_MODEL');
  await rejects(t, createModel({ architecture: 'resnet50', num_classes: 10, model_args: {} } as never), 'VIT_E_UNKNOWN_MODEL');
  await rejects(t, createModel({ num_classes: 10 } as never), 'VIT_E_ARGUMENT', /architecture/);
  await rejects(t, createModel('/no/such/dir/config.json'), 'VIT_E_IO');
  await assertStillWorks(t);
});

test('unknown and invalid options (zod, VIT_E_ARGUMENT)', async (t) => {
  await rejects(t, createModel('deit_tiny_patch16_224', { numClases: 10 } as never), 'VIT_E_ARGUMENT', /numClases/);
  await rejects(t, createModel('deit_tiny_patch16_224', { threads: 0 }), 'VIT_E_ARGUMENT', /threads/);
  await rejects(t, createModel('deit_tiny_patch16_224', { imgSize: -1 }), 'VIT_E_ARGUMENT', /imgSize/);
  await rejects(t, createModel('deit_tiny_patch16_224', { globalPool: 'mean' as never }), 'VIT_E_ARGUMENT', /globalPool/);
  await rejects(t, createModel('deit_tiny_patch16_224', { device: 'gpu' }), 'VIT_E_ARGUMENT', /device/);
  await rejects(t, createModel('deit_tiny_patch16_224', { dtype: 'float16' }), 'VIT_E_UNSUPPORTED', /CUDA-only/);
  const m = await basic();
  t.teardown(() => m.dispose());
  await rejects(t, m.forwardIntermediates(x(), { indicies: [0] } as never), 'VIT_E_ARGUMENT', /indicies/);
  await rejects(t, m.forwardIntermediates(x(), { indices: [3] }), 'VIT_E_ARGUMENT', /out of range/);
  await rejects(t, m.forwardIntermediates(x(), { indices: 4 }), 'VIT_E_ARGUMENT');
  await rejects(t, m.forwardIntermediates(x(), { outputFmt: 'NHWC' as never }), 'VIT_E_ARGUMENT');
  await rejects(t, () => m.resetClassifier(-1), 'VIT_E_ARGUMENT');
  await rejects(t, () => m.getWeight('no.such.key'), 'VIT_E_ARGUMENT');
  close(t, await m.forward(x()), io.get('logits')!, 'same model after errors');
  await assertStillWorks(t);
});

test('missing, mis-shaped and unexpected weights: all reported in one error', async (t) => {
  const dir = tmpDir(t);
  const sd = readSafetensors(basicCheckpoint);
  const bad: [string, { shape: number[]; data: Float32Array }][] = [];
  for (const [k, v] of sd) {
    if (k === 'blocks.1.mlp.fc1.bias' || k === 'cls_token') continue; // missing
    if (k === 'blocks.0.norm1.weight') bad.push([k, { shape: [32], data: v.data.slice(0, 32) }]); // mis-shaped
    else if (k === 'blocks.2.attn.qkv.weight') bad.push([k, { shape: [64, 192], data: v.data }]); // transposed
    else bad.push([k, v]);
  }
  bad.push(['blocks.3.attn.qkv.weight', { shape: [2], data: new Float32Array(2) }]); // unexpected
  bad.push(['reg_token', { shape: [1, 1, 64], data: new Float32Array(64) }]); // unexpected
  const path = join(dir, 'bad.safetensors');
  writeSafetensors(path, bad);
  const err = await rejects(t, createModel(BASIC.config, { checkpoint: path }), 'VIT_E_CHECKPOINT');
  for (const s of ["missing key 'blocks.1.mlp.fc1.bias' [256]", "missing key 'cls_token' [1, 1, 64]",
    "'blocks.0.norm1.weight': checkpoint has [32], model expects [64]",
    "'blocks.2.attn.qkv.weight': checkpoint has [64, 192], model expects [192, 64]",
    "unexpected key 'blocks.3.attn.qkv.weight' [2]", "unexpected key 'reg_token' [1, 1, 64]"]) {
    t.true(err.message.includes(s), `message mentions ${s}:\n${err.message}`);
  }
  // Each problem once: a mis-shaped key is not also "missing" (6 problems, not 8).
  t.regex(err.message, /\n6 problems:\n/);
  t.false(err.message.includes("missing key 'blocks.0.norm1.weight'"), 'mis-shaped key also reported as missing');
  t.is(err.message.split('\n').length - 2, 6);
  t.is((err as unknown as { problems: string[] }).problems.length, 6);
  // a checkpoint for a different model entirely
  await rejects(t, createModel('deit_tiny_patch16_224', { checkpoint: basicCheckpoint }), 'VIT_E_CHECKPOINT', /problems/);
  // an in_chans the weights cannot be adapted from is a config error, not a crash: inChans 2 from 3 works (timm repeats)
  const m2 = await createModel(BASIC.config, { checkpoint: basicCheckpoint, inChans: 2 });
  t.deepEqual([...m2.getWeight('patch_embed.proj.weight').shape], [64, 2, 8, 8]);
  m2.dispose();
  await assertStillWorks(t);
});

test('truncated and corrupt safetensors files', async (t) => {
  const dir = tmpDir(t);
  const good = readFileSync(basicCheckpoint);
  const headerLen = Number(good.readBigUInt64LE(0));
  const cases: [string, Buffer, RegExp][] = [];
  cases.push(['truncated-data', good.subarray(0, Math.floor(good.length / 2)), /truncated|does not fit/]);
  cases.push(['truncated-header', good.subarray(0, 8 + Math.floor(headerLen / 2)), /header length/]);
  cases.push(['tiny', good.subarray(0, 5), /5 bytes/]);
  cases.push(['empty', Buffer.alloc(0), /0 bytes/]);
  let seed = 12345;
  const rnd = Buffer.alloc(4096).map(() => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff);
  cases.push(['random', Buffer.from(rnd), /header length/]);
  const huge = Buffer.from(good);
  huge.writeBigUInt64LE(0xffffffffffffn, 0);
  cases.push(['bad-header-length', huge, /header length/]);
  const notJson = Buffer.from(good);
  notJson.write('}{', 8);
  cases.push(['header-not-json', notJson, /not JSON/]);
  const mk = (hdr: object, data = 16) => {
    const h = Buffer.from(JSON.stringify(hdr));
    const l = Buffer.alloc(8);
    l.writeBigUInt64LE(BigInt(h.length));
    return Buffer.concat([l, h, Buffer.alloc(data)]);
  };
  cases.push(['offsets-past-eof', mk({ cls_token: { dtype: 'F32', shape: [1, 1, 64], data_offsets: [0, 256] } }), /does not fit/]);
  cases.push(['offsets-vs-shape', mk({ cls_token: { dtype: 'F32', shape: [1, 1, 64], data_offsets: [0, 16] } }), /does not fit/]);
  cases.push(['negative-offsets', mk({ cls_token: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }), /does not fit|offsets/]);
  cases.push(['bad-shape', mk({ cls_token: { dtype: 'F32', shape: [-4], data_offsets: [0, 16] } }), /shape/]);
  cases.push(['bad-dtype', mk({ cls_token: { dtype: 'I32', shape: [4], data_offsets: [0, 16] } }), /unsupported dtype I32/]);
  cases.push(['header-array', mk([1, 2]), /not an object/]);
  for (const [name, bytes, re] of cases) {
    const p = join(dir, `${name}.safetensors`);
    writeFileSync(p, bytes);
    const e1 = await rejects(t, createModel(BASIC.config, { checkpoint: p }), 'VIT_E_CHECKPOINT', re);
    t.true(e1.message.includes(p), `${name}: message names the file`);
    await rejects(t, () => readSafetensors(p), 'VIT_E_CHECKPOINT', re);
  }
  await rejects(t, createModel(BASIC.config, { checkpoint: join(dir, 'missing.safetensors') }), 'VIT_E_IO');
  await rejects(t, createModel(BASIC.config, { checkpoint: join(PARITY, 'modern', 'manifest.json') }), 'VIT_E_CHECKPOINT', /unrecognised checkpoint format/);
  await assertStillWorks(t);
});

test('use after dispose (VIT_E_DISPOSED); dispose during an in-flight forward is safe', async (t) => {
  const m = await basic();
  const inflight = m.forward(x());
  m.dispose();
  m.dispose(); // idempotent
  // The forward already started finishes correctly (native memory is kept alive until it is done).
  close(t, await inflight, io.get('logits')!, 'in-flight forward');
  await rejects(t, m.forward(x()), 'VIT_E_DISPOSED');
  await rejects(t, m.forwardFeatures(x()), 'VIT_E_DISPOSED');
  await rejects(t, m.forwardHead(new Tensor(new Float32Array(2 * 17 * 64), [2, 17, 64])), 'VIT_E_DISPOSED');
  await rejects(t, m.forwardIntermediates(x()), 'VIT_E_DISPOSED');
  await rejects(t, m.run(x(), { outputs: ['logits'] }), 'VIT_E_DISPOSED');
  await rejects(t, () => m.getClassifier(), 'VIT_E_DISPOSED');
  await rejects(t, () => m.getWeight('cls_token'), 'VIT_E_DISPOSED');
  await rejects(t, () => m.resetClassifier(3), 'VIT_E_DISPOSED');
  await rejects(t, () => m.weightBytes, 'VIT_E_DISPOSED');
  await assertStillWorks(t);
});
