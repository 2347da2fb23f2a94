// Checkpoint formats beyond safetensors: PyTorch .pth (zip / legacy / tar; views, dtypes, containers), the
// restricted pickle decoder against hostile files, JAX .npz round trips (timm's _load_weights layouts), dispatch
// by content. The .pth parity cases with timm's outputs live in parity.test.ts.
import test from 'ava';
import { copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createModel, Tensor } from '../lib/index.ts';
import { resamplePosEmbed } from '../lib/weights/adapt.ts';
import { openCheckpoint } from '../lib/weights/checkpoint.ts';
import { readSafetensors, toFloat32 } from '../lib/weights/safetensors.ts';
import { writeJaxNpz, zipBytes, type JaxLayout } from '../scripts/write-npz.ts';
import { argmax, BASIC, basicCheckpoint, close, FIXTURES, PARITY, readIo, relErr, tmpDir } from './helpers.ts';

const PTH = join(FIXTURES, 'pth');
const io = readIo('modern', BASIC.io);
const x = new Tensor(io.get('input')!.data, io.get('input')!.shape);
const logits = io.get('logits')!;

function readAll(path: string) {
  const c = openCheckpoint(path);
  try {
    return { c, values: new Map([...c.tensors].map(([k, t]) => [k, { shape: t.shape, dtype: t.dtype, data: toFloat32(t.read(), t.dtype) }])) };
  } finally {
    c.close();
  }
}

// ---- .pth: views, shared storages, dtypes, containers ----------------------------------------------------------

for (const [file, format, container] of [['views.pth', 'pth-zip', 'state_dict'], ['views_legacy.pth', 'pth-legacy', 'state_dict'], ['views_tar.pth', 'pth-tar', undefined]] as const) {
  test(`${file}: views (transposed, offset + strided, stride 0), Parameter, bf16/f16/f64 match torch's contiguous copies`, (t) => {
    const want = readAll(join(PTH, 'views.expected.safetensors')).values;
    const { c, values } = readAll(join(PTH, file));
    t.is(c.format, format);
    t.is(c.container, container);
    t.deepEqual([...values.keys()].sort(), [...want.keys()].sort());
    for (const [k, w] of want) {
      const g = values.get(k)!;
      t.is(g.dtype, w.dtype, `${k} dtype`);
      t.deepEqual(g.shape, w.shape, `${k} shape`);
      t.deepEqual([...g.data], [...w.data], `${k} values`);
    }
    t.true(c.skipped.some((s) => s.startsWith('steps (int64')), 'integer tensors are skipped, not loaded');
    if (container) t.true(c.skipped.some((s) => s.startsWith('epoch')), 'extra entries are reported as skipped');
  });
}

test('containers: state_dict_ema / model_ema win over state_dict / model (timm load_state_dict, use_ema=True)', (t) => {
  for (const [file, container, value] of [['ema_timm.pth', 'state_dict_ema', 1], ['ema_model.pth', 'model_ema', 2]] as const) {
    const { c, values } = readAll(join(PTH, file));
    t.is(c.container, container);
    t.deepEqual([...values.get('w')!.data], [value, value, value]);
  }
});

test('vit_basic_fp16.pth: f16 storages widen exactly; logits within the reduced-precision tolerance, same classes', async (t) => {
  const f16 = readAll(join(PARITY, 'modern', 'vit_basic_fp16.pth')).values;
  const f32 = readSafetensors(basicCheckpoint);
  t.true([...f16.values()].every((v) => v.dtype === 'F16'));
  const m = await createModel(BASIC.config, { checkpoint: join(PARITY, 'modern', 'vit_basic_fp16.pth') });
  t.teardown(() => m.dispose());
  for (const [k, v] of f16) {
    close(t, m.getWeight(k), v, `weight ${k} == its f16 values`, 0);
    close(t, v, f32.get(k)!, `f16 ${k} ~ f32`, 2 ** -10);
  }
  const y = await m.forward(x);
  const e = relErr(y.data, logits.data);
  t.true(e <= 2e-2 && e > 0, `f16 vs f32 logits: ${e}`);
  for (let b = 0; b < logits.shape[0]; b++) t.is(argmax(y.data, b * 10, 10), argmax(logits.data, b * 10, 10));
});

test('format is detected by content, not by file name', async (t) => {
  const dir = tmpDir(t);
  const cases: [string, string][] = [['vit_basic.pth', 'weights.safetensors'], ['vit_basic_legacy.pth', 'weights.npz'], ['vit_basic.safetensors', 'weights.bin']];
  for (const [src, dst] of cases) {
    copyFileSync(join(PARITY, 'modern', src), join(dir, dst));
    const m = await createModel(BASIC.config, { checkpoint: join(dir, dst) });
    close(t, await m.forward(x), logits, `${src} named ${dst}`);
    m.dispose();
  }
  writeFileSync(join(dir, 'junk.pth'), 'not a checkpoint at all');
  await t.throwsAsync(createModel(BASIC.config, { checkpoint: join(dir, 'junk.pth') }), { code: 'VIT_E_CHECKPOINT', message: /unrecognised checkpoint format/ });
  writeFileSync(join(dir, 'other.zip'), zipBytes([['readme.txt', Buffer.from('hi')]], false));
  await t.throwsAsync(createModel(BASIC.config, { checkpoint: join(dir, 'other.zip') }), { code: 'VIT_E_CHECKPOINT', message: /neither a PyTorch checkpoint/ });
  await t.throwsAsync(createModel(BASIC.config, { checkpoint: join(dir, 'missing.pth') }), { code: 'VIT_E_IO' });
});

test('truncated .pth files are VIT_E_CHECKPOINT errors', async (t) => {
  const dir = tmpDir(t);
  const { readFileSync } = await import('node:fs');
  for (const f of ['vit_basic.pth', 'vit_basic_legacy.pth']) {
    const buf = readFileSync(join(PARITY, 'modern', f));
    for (const frac of [0.1, 0.5, 0.99]) {
      const p = join(dir, `cut-${frac}-${f}`);
      writeFileSync(p, buf.subarray(0, Math.floor(buf.length * frac)));
      await t.throwsAsync(createModel(BASIC.config, { checkpoint: p }), { code: 'VIT_E_CHECKPOINT' }, `${f} cut at ${frac}`);
    }
  }
});

// ---- hostile pickles --------------------------------------------------------------------------------------------

const MARKER = '/tmp/vitnode-pwned';

for (const [file, global] of [
  ['hostile_os_system.pth', /'posix\.system' \(os\.system\)/],
  ['hostile_builtins_eval.pth', /'__builtin__\.eval' \(builtins\.eval\)/],
  ['hostile_subprocess_popen.pth', /'commands\.Popen' \(subprocess\.Popen\)/],
  ['hostile_legacy_os_system.pth', /'posix\.system' \(os\.system\)/],
] as const) {
  test(`${file} (written by torch.save) is refused, naming the global; nothing runs`, async (t) => {
    await t.throwsAsync(createModel(BASIC.config, { checkpoint: join(PTH, file) }), { code: 'VIT_E_CHECKPOINT', message: global });
    t.false(existsSync(MARKER));
  });
}

/** A torch zip checkpoint around a hand-written data.pkl. */
function zipPickle(pkl: Buffer, extra: [string, Buffer][] = []): Buffer {
  return zipBytes([['archive/data.pkl', pkl], ...extra], false);
}
const P = (s: string) => Buffer.from(s, 'latin1');
// Protocol 0/2/4 pickles that reach code: GLOBAL + REDUCE, STACK_GLOBAL, INST, OBJ, NEWOBJ, BUILD, EXT.
const HOSTILE: [string, Buffer, RegExp][] = [
  ['GLOBAL os.system + REDUCE', P(`cos\nsystem\n(S'touch ${MARKER}'\ntR.`), /'os\.system'/],
  ['GLOBAL builtins.eval', P(`cbuiltins\neval\n(S'1'\ntR.`), /'builtins\.eval'/],
  ['GLOBAL subprocess.check_output', P(`csubprocess\ncheck_output\n((S'touch'\nS'${MARKER}'\nltR.`), /'subprocess\.check_output'/],
  ['STACK_GLOBAL (protocol 4)', Buffer.concat([P('\x80\x04\x8c\x02os\x94\x8c\x06system\x94\x93\x94\x8c\x04true\x94\x85\x94R\x94.')]), /'os\.system'/],
  ['INST', P(`(S'touch ${MARKER}'\nios\nsystem\n.`), /'os\.system'/],
  ['OBJ', P(`(cos\nsystem\nS'true'\no.`), /'os\.system'/],
  ['NEWOBJ of an arbitrary class', P(`\x80\x02cbuiltins\nobject\n)\x81.`), /'builtins\.object'/],
  ['global hidden in a dict value', P(`\x80\x02}(X\x01\x00\x00\x00wcbuiltins\nexec\nu.`), /'builtins\.exec'/],
  ['torch name that is not on the allowlist', P(`\x80\x02ctorch\nload\n.`), /'torch\.load'/],
  ['EXT1 (copyreg extension registry)', P(`\x80\x02\x82\x01.`), /copyreg extension/],
];

for (const [name, pkl, msg] of HOSTILE) {
  test(`hostile pickle refused by name: ${name}`, async (t) => {
    const dir = tmpDir(t);
    const p = join(dir, 'evil.pth');
    writeFileSync(p, zipPickle(pkl));
    const e = await t.throwsAsync(createModel(BASIC.config, { checkpoint: p }), { code: 'VIT_E_CHECKPOINT', message: msg });
    t.regex(e!.message, /never executes code/);
    // and in the legacy non-zip layout: magic, protocol, sys_info, then the same pickle
    const legacy = Buffer.concat([P('\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.'), P('\x80\x02M\xe9\x03.'), P('\x80\x02}.'), pkl]);
    writeFileSync(p, legacy);
    await t.throwsAsync(createModel(BASIC.config, { checkpoint: p }), { code: 'VIT_E_CHECKPOINT', message: msg });
    t.false(existsSync(MARKER));
  });
}

test('REDUCE / BUILD on allowed objects that are not callables are refused', async (t) => {
  const dir = tmpDir(t);
  const p = join(dir, 'evil.pth');
  // BUILD on a dict (would be __setstate__ / attribute injection)
  writeFileSync(p, zipPickle(P(`\x80\x02}}b.`)));
  await t.throwsAsync(createModel(BASIC.config, { checkpoint: p }), { code: 'VIT_E_CHECKPOINT', message: /BUILD/ });
  // REDUCE with a storage type as the callable
  writeFileSync(p, zipPickle(P(`\x80\x02ctorch\nFloatStorage\n)R.`)));
  await t.throwsAsync(createModel(BASIC.config, { checkpoint: p }), { code: 'VIT_E_CHECKPOINT', message: /REDUCE on a torch storage type/ });
  // _rebuild_tensor_v2 fed a string instead of a storage
  writeFileSync(p, zipPickle(P(`\x80\x02ctorch._utils\n_rebuild_tensor_v2\n(X\x01\x00\x00\x00aK\x00)))tR.`)));
  await t.throwsAsync(createModel(BASIC.config, { checkpoint: p }), { code: 'VIT_E_CHECKPOINT', message: /instead of a storage/ });
  // a view reaching past its storage
  const store = Buffer.alloc(16);
  writeFileSync(p, zipPickle(P(`\x80\x02}X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x04tQK\x02K\x04\x85K\x01\x85\x89)tRs.`), [['archive/data/0', store]]));
  await t.throwsAsync(createModel(BASIC.config, { checkpoint: p }), { code: 'VIT_E_CHECKPOINT', message: /reaches element 5 of a 4-element storage/ });
});

// ---- JAX .npz --------------------------------------------------------------------------------------------------

const HEADS = BASIC.config.model_args.num_heads as number;
for (const layout of ['original', 'big_vision', 'big_vision_scanned'] as JaxLayout[]) {
  for (const compress of [false, true]) {
    test(`.npz ${layout}${compress ? ' (savez_compressed)' : ''}: same tensors and logits as the safetensors`, async (t) => {
      const dir = tmpDir(t);
      const p = join(dir, 'w.npz');
      writeJaxNpz(p, readSafetensors(basicCheckpoint), layout, HEADS, compress);
      const want = readSafetensors(basicCheckpoint);
      const { c, values } = readAll(p);
      t.is(c.format, 'npz-jax');
      t.deepEqual([...values.keys()].sort(), [...want.keys()].sort());
      for (const [k, w] of want) close(t, values.get(k)!, w, k, 0);
      const m = await createModel(BASIC.config, { checkpoint: p });
      t.teardown(() => m.dispose());
      close(t, await m.forward(x), logits, 'logits');
    });
  }
}

test('.npz pos_embed resample is bilinear without antialias (timm _load_weights), not the .pth path\'s bicubic', async (t) => {
  const dir = tmpDir(t);
  const p = join(dir, 'w.npz');
  writeJaxNpz(p, readSafetensors(basicCheckpoint), 'original', HEADS);
  // ground truth from timm's own _load_weights (scripts/check-npz-timm.py)
  const want = readSafetensors(join(FIXTURES, 'npz', 'vit_basic_npz_48.safetensors')).get('pos_embed')!;
  const m = await createModel(BASIC.config, { checkpoint: p, imgSize: 48 });
  const ms = await createModel(BASIC.config, { checkpoint: basicCheckpoint, imgSize: 48 });
  t.teardown(() => { m.dispose(); ms.dispose(); });
  close(t, m.getWeight('pos_embed'), want, 'npz pos_embed vs timm', 1e-6);
  t.true(m.loadReport!.adapted.includes('pos_embed'));
  t.true(relErr(ms.getWeight('pos_embed').data, want.data) > 1e-3, 'the safetensors path resamples differently (bicubic + AA)');
  const pe = readSafetensors(basicCheckpoint).get('pos_embed')!;
  close(t, m.getWeight('pos_embed'), { shape: want.shape, data: resamplePosEmbed(pe.data, 64, 1, [4, 4], [6, 6], 'bilinear') }, 'native bilinear', 1e-6);
});

test('.npz with timm key names (np.savez(**state_dict)) loads as a plain state dict', async (t) => {
  const dir = tmpDir(t);
  const { npyBytes } = await import('../scripts/write-npz.ts');
  const p = join(dir, 'plain.npz');
  writeFileSync(p, zipBytes([...readSafetensors(basicCheckpoint)].map(([k, v]) => [`${k}.npy`, npyBytes(v)]), true));
  const c = openCheckpoint(p);
  t.is(c.format, 'npz');
  c.close();
  const m = await createModel(BASIC.config, { checkpoint: p });
  t.teardown(() => m.dispose());
  close(t, await m.forward(x), logits, 'logits');
});
