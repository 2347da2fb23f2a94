// timm's eva.py (EVA, EVA-02, EVA-CLIP, Perception Encoder, RoPE-ViT, SBB, DINOv3, LingBot): every case of
// test/fixtures/eva (timm 1.0.29 on random weights, see its README) matches timm at the float32 tolerance on every
// output it lists; the original-layout checkpoints (`orig`) convert to the same numbers; bad rope input is refused.
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { binding } from '../lib/binding.ts';
import { GraphBuilder } from '../lib/graph/builder.ts';
import { createModel, readSafetensors, resolveConfig, Tensor } from '../lib/index.ts';
import { createModelModule } from '../lib/models/index.ts';
import { close, FIXTURES, tmpDir, type ParityCase } from './helpers.ts';
import { checkCase } from './parity-check.ts';

const DIR = join(FIXTURES, 'eva');
type EvaCase = ParityCase & { why?: string; input_size: [number, number]; orig?: { file: string; keys_from_case: string[] } };
const cases: EvaCase[] = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8'));

for (const c of cases) {
  test(`${c.name}: timm's outputs (${c.config.architecture})`, (t) => checkCase(t, DIR, c));
}

/** A safetensors file of F32 tensors. */
function writeSafetensors(path: string, tensors: Map<string, { shape: number[]; data: Float32Array }>) {
  const header: Record<string, unknown> = {};
  let off = 0;
  for (const [k, v] of tensors) {
    header[k] = { dtype: 'F32', shape: v.shape, data_offsets: [off, off + v.data.byteLength] };
    off += v.data.byteLength;
  }
  const h = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  writeFileSync(path, Buffer.concat([len, h, ...[...tensors.values()].map((v) => Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength))]));
}

for (const c of cases.filter((k) => k.orig)) {
  test(`${c.name}: original layout ${c.orig!.file} converts as timm's checkpoint_filter_fn`, async (t) => {
    let ckpt = join(DIR, c.orig!.file);
    if (c.orig!.keys_from_case.length) {
      // keys the original lacks (DINOv3's backbone has no head) come from the case's weights, as the fixture did
      const orig = readSafetensors(ckpt);
      const own = readSafetensors(join(DIR, c.weights));
      const all = new Map([...orig].map(([k, v]) => [k, { shape: [...v.shape], data: Float32Array.from(v.data) }]));
      for (const k of c.orig!.keys_from_case) all.set(k, { shape: [...own.get(k)!.shape], data: Float32Array.from(own.get(k)!.data) });
      ckpt = join(tmpDir(t), 'orig+case.safetensors');
      writeSafetensors(ckpt, all);
    }
    const model = await createModel(c.config, { checkpoint: ckpt });
    t.teardown(() => model.dispose());
    const want = readSafetensors(join(DIR, c.weights));
    for (const [k, v] of want) close(t, model.getWeight(k), v, `converted ${k}`, 0);
    t.deepEqual(model.stateDictShapes().map(([k]) => k).sort(), [...want.keys()].sort(), "timm's state_dict keys");
    const io = readSafetensors(join(DIR, c.io));
    const x = io.get('input')!;
    close(t, await model.forward(new Tensor(x.data, x.shape)), io.get('logits')!, 'logits');
    t.true(model.loadReport!.dropped.length > 0, 'original-only keys dropped');
  });
}

test('rope_type: an unknown value is refused naming it', async (t) => {
  const err = await t.throwsAsync(createModel({ architecture: 'vit_small_patch16_rope_224', num_classes: 5, model_args: { rope_type: 'spiral', img_size: 16, patch_size: 4, embed_dim: 24, depth: 1, num_heads: 2 } }));
  t.is((err as { code?: string }).code, 'VIT_E_UNSUPPORTED');
  t.regex(err!.message, /rope_type=spiral/);
});

test('rope: a checkpoint whose rotary layout does not match is refused naming rope.freqs', async (t) => {
  const mixed = cases.find((c) => c.name === 'rope_mixed')!;
  const axial = cases.find((c) => c.name === 'rope_axial_ape')!;
  // rope 'cat' model, mixed checkpoint: rope.freqs is unexpected
  const err = await t.throwsAsync(createModel({ ...axial.config, model_args: { ...axial.config.model_args, no_embed_class: false, use_abs_pos_emb: false } }, { checkpoint: join(DIR, mixed.weights) }));
  t.is((err as { code?: string }).code, 'VIT_E_CHECKPOINT');
  t.regex(err!.message, /rope\.freqs/);
  // mixed model with another head count: rope.freqs is mis-shaped
  const err2 = await t.throwsAsync(createModel({ ...mixed.config, model_args: { ...mixed.config.model_args, num_heads: 3 } }, { checkpoint: join(DIR, mixed.weights) }));
  t.regex(err2!.message, /rope\.freqs/);
});

test('featuresOnly: DINOv3 patch features as NCHW maps', async (t) => {
  const c = cases.find((k) => k.name === 'dinov3')!;
  const model = await createModel(c.config, { checkpoint: join(DIR, c.weights), featuresOnly: true, outIndices: [0, 1] });
  t.teardown(() => model.dispose());
  const io = readSafetensors(join(DIR, c.io));
  const x = io.get('input')!;
  const maps = await model.forwardFeatureMaps(new Tensor(x.data, x.shape));
  t.is(maps.length, 2);
  maps.forEach((m, i) => close(t, m, io.get(`intermediates.${i}`)!, `feature map ${i}`));
});

test('resetClassifier: a new head on the same trunk (fc_norm / norm kept); map cannot be switched', async (t) => {
  const c = cases.find((k) => k.name === 'eva_giant')!;
  const model = await createModel(c.config, { checkpoint: join(DIR, c.weights) });
  t.teardown(() => model.dispose());
  const io = readSafetensors(join(DIR, c.io));
  const x = io.get('input')!;
  model.resetClassifier(0);
  close(t, await model.forward(new Tensor(x.data, x.shape)), io.get('pre_logits')!, 'no head: logits = pre_logits (avg -> fc_norm)');
  const pe = cases.find((k) => k.name === 'pe_core')!;
  const m2 = await createModel(pe.config, { checkpoint: join(DIR, pe.weights) });
  t.teardown(() => m2.dispose());
  t.throws(() => m2.resetClassifier(3, 'avg'), { code: 'VIT_E_UNSUPPORTED' });
  m2.resetClassifier(3);
  t.is(m2.numClasses, 3);
});

test('dynamic_img_size: one model at two grids and back (derived tables added after the weights were packed)', async (t) => {
  const a = cases.find((k) => k.name === 'dinov3')!;
  const b = cases.find((k) => k.name === 'dinov3_24x12')!;
  const model = await createModel(a.config, { checkpoint: join(DIR, a.weights) });
  t.teardown(() => model.dispose());
  const ioA = readSafetensors(join(DIR, a.io));
  const ioB = readSafetensors(join(DIR, b.io));
  const xa = ioA.get('input')!;
  const xb = ioB.get('input')!;
  close(t, await model.forward(new Tensor(xa.data, xa.shape)), ioA.get('logits')!, 'native grid');
  const bytes = model.weightBytes;
  close(t, await model.forward(new Tensor(xb.data, xb.shape)), ioB.get('logits')!, '6x3 grid');
  t.true(model.weightBytes > bytes, 'the new grid added its rope table');
  close(t, await model.forward(new Tensor(xa.data, xa.shape)), ioA.get('logits')!, 'native grid again');
  t.false(model.stateDictShapes().some(([k]) => k.startsWith('@')), 'internal keys never in the state_dict');
});

test("checkpoint_filter_fn's other layouts: MIM pretrain (norm -> fc_norm, mask_token / lm_head dropped), OpenCLIP visual.trunk.", async (t) => {
  const c = cases.find((k) => k.name === 'eva_giant')!;
  const own = readSafetensors(join(DIR, c.weights));
  const io = readSafetensors(join(DIR, c.io));
  const x = io.get('input')!;
  const copy = (v: { shape: readonly number[]; data: Float32Array }) => ({ shape: [...v.shape], data: Float32Array.from(v.data) });
  const layouts: [string, Map<string, { shape: number[]; data: Float32Array }>][] = [
    ['mim', new Map([...own].map(([k, v]) => [k.replace(/^fc_norm\./, 'norm.'), copy(v)]))],
    ['open_clip', new Map([...own].map(([k, v]) => [`visual.trunk.${k}`, copy(v)]))],
  ];
  layouts[0][1].set('mask_token', { shape: [1, 1, 24], data: new Float32Array(24) });
  layouts[0][1].set('lm_head.weight', { shape: [5, 24], data: new Float32Array(120) });
  layouts[1][1].set('text.proj', { shape: [2, 2], data: new Float32Array(4) });
  layouts[1][1].set('logit_scale', { shape: [1], data: new Float32Array(1) });
  const dir = tmpDir(t);
  for (const [name, sd] of layouts) {
    const file = join(dir, `${name}.safetensors`);
    writeSafetensors(file, sd);
    const model = await createModel(c.config, { checkpoint: file });
    close(t, await model.forward(new Tensor(x.data, x.shape)), io.get('logits')!, `${name} logits`);
    t.true(model.loadReport!.dropped.length >= 2, `${name}: extra keys dropped`);
    model.dispose();
  }
});

test('every op an Eva graph emits has a CUDA kernel in this binary (when built with CUDA)', (t) => {
  const table = new Map(binding.opTable().map((o) => [o.name, o.backends]));
  const cudaBuilt = [...table.values()].some((b) => b.cuda);
  const ops = new Set<string>();
  for (const c of cases) {
    const m = createModelModule(resolveConfig(c.config).config);
    const g = new GraphBuilder();
    const [h, w] = c.input_size;
    const { features, intermediates } = m.buildFeatures(g, g.input([2, 3, h, w]), { indices: [0], norm: true, outputFmt: 'NCHW' });
    g.output('logits', m.buildHead(g, features).logits);
    intermediates.forEach((s, i) => g.output(`i${i}`, s));
    for (const n of g.spec().nodes) ops.add(n.op);
  }
  t.true(ops.has('rope'));
  if (!cudaBuilt) return t.pass('built without CUDA');
  t.deepEqual([...ops].filter((o) => !table.get(o)?.cuda), []);
});

test('rope: a head_dim not divisible by 4 is refused with VIT_E_ARGUMENT', async (t) => {
  const err = await t.throwsAsync(createModel({ architecture: 'vit_small_patch16_rope_224', num_classes: 5, model_args: { img_size: 16, patch_size: 4, embed_dim: 20, depth: 1, num_heads: 2 } }));
  t.is((err as { code?: string }).code, 'VIT_E_ARGUMENT');
  t.regex(err!.message, /head_dim divisible by 4, got 10/);
});
