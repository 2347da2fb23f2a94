// A newcomer's first hour on the command line (issue 19): names with their source, missing files named as what
// they are, random weights said once, short checkpoint errors (--verbose for all), --help everywhere, the closest
// flag for a typo, a closed pipe ends quietly, doctor names the build.
import test from 'ava';
import { execFile } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Tensor, writeSafetensors } from '../lib/index.ts';
import { tmpDir, vitnode } from './helpers.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIGITS = join(ROOT, 'examples', 'digits');
const IMG = join(DIGITS, 'images', '000_label2.png');

function input224(t: Parameters<typeof tmpDir>[0]): string {
  const p = join(tmpDir(t), 'x.safetensors');
  writeSafetensors(p, [['input', new Tensor(new Float32Array(3 * 224 * 224).fill(0.1), [1, 3, 224, 224])]]);
  return p;
}

test('missing files are named as what they are: no such file (describe, --model), --input, not "Unknown model"', async (t) => {
  const d = await vitnode(['describe', 'nope.pth']);
  t.is(d.code, 1);
  t.regex(d.stderr, /^vitnode describe: \[VIT_E_IO\] no such file or directory: 'nope\.pth'/);
  const c = await vitnode(['classify', '--model', './no/such/folder', IMG]);
  t.regex(c.stderr, /\[VIT_E_IO\] no such file or directory: '\.\/no\/such\/folder' \(the model --model/);
  const r = await vitnode(['run', '--config', DIGITS, '--input', 'nope.safetensors', '--output', join(tmpDir(t), 'y.safetensors')]);
  t.regex(r.stderr, /\[VIT_E_IO\] --input nope\.safetensors: no such file/);
  t.notRegex(r.stderr, /checkpoint/);
});

test('names: describe <config.json> attaches no tag and marks custom model_args; bench names the folder', async (t) => {
  const d = await vitnode(['describe', join(DIGITS, 'config.json')]);
  const [first] = d.stdout.split('\n');
  t.notRegex(first, /tag/);
  t.regex(first, /^vit_base_patch16_224 \(config .*config\.json, custom model_args: img_size, patch_size, embed_dim, depth, num_heads\): 56 tensors/);
  t.regex(d.stdout, /^pretrained_cfg \(the config's\): /m);
  const n = await vitnode(['describe', 'deit_tiny_patch16_224']);
  t.regex(n.stdout, /^deit_tiny_patch16_224: 152 tensors/);
  t.regex(n.stdout, /^pretrained_cfg \(tag fb_in1k\): /m);
  const b = await vitnode(['bench', DIGITS, '--seconds', '0.05', '--threads', '1']);
  t.is(b.code, 0, b.stderr);
  t.regex(b.stdout, /^vit_base_patch16_224 \(folder .*digits, custom model_args: [a-z_, ]+\) batch 1 on cpu: /);
  t.notRegex(b.stderr, /warning/);
});

test('describe <folder> uses its config.json; describe <file> says what the weights are and ranks by structure', async (t) => {
  const f = await vitnode(['describe', DIGITS]);
  t.regex(f.stdout, /^the weights: ViT: depth 4, width 96, 3 heads, mlp 384, patch 4, 10 classes, 65 tokens$/m);
  t.regex(f.stdout, /^config\.json: vit_base_patch16_224 \(config .*\): fits$/m);
  const file = join(tmpDir(t), 'weights.safetensors');
  copyFileSync(join(DIGITS, 'model.safetensors'), file);
  const w = await vitnode(['describe', file]);
  t.regex(w.stdout, /^the weights: ViT: depth 4, width 96, mlp 384, patch 4, 10 classes, 65 tokens \(heads are not stored in the weights\)$/m);
  const closest = w.stdout.split('closest (shape agreement, then structure):\n')[1].split('\n').slice(0, 3);
  t.is(closest.length, 3);
  for (const l of closest) t.notRegex(l, /beit3|deit3|family| only in /, l);
});

test('random weights: said once (run without --checkpoint); an unknown name is reported without a warning first', async (t) => {
  const r = await vitnode(['run', '--config', 'deit_tiny_patch16_224', '--input', input224(t), '--output', join(tmpDir(t), 'y.safetensors'), '--threads', '1']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stderr.match(/warning/g)?.length, 1, r.stderr);
  t.regex(r.stderr, /^vitnode: warning: deit_tiny_patch16_224 \(random weights\): no checkpoint was given/m);
  t.regex(r.stderr, /^vitnode run: deit_tiny_patch16_224 \(random weights\) on \[1, 3, 224, 224\]/m);
  const u = await vitnode(['classify', '--model', 'vit_bse_patch16_224', IMG]);
  t.is(u.code, 1);
  t.notRegex(u.stderr, /warning/);
  t.regex(u.stderr, /Unknown model 'vit_bse_patch16_224'\. Did you mean: vit_base_patch16_224/);
});

test('a checkpoint that does not fit: a short error (diagnosis, 10 problems, a count); --verbose lists them all', async (t) => {
  const args = ['run', '--config', 'deit_tiny_patch16_224', '--checkpoint', join(DIGITS, 'model.safetensors'), '--input', input224(t), '--output', join(tmpDir(t), 'y.safetensors')];
  const r = await vitnode(args);
  t.is(r.code, 1);
  const lines = r.stderr.trim().split('\n');
  t.regex(lines[0], /^vitnode run: \[VIT_E_CHECKPOINT\] checkpoint does not fit the model: the checkpoint is ViT: depth 4, width 96.*the model expects ViT: depth 12, width 192/);
  t.is(lines.length, 13, r.stderr);
  t.true(r.stderr.length < 2500, `${r.stderr.length} characters`);
  const v = await vitnode([...args, '--verbose']);
  const n = Number(/^(\d+) problems:$/m.exec(v.stderr)?.[1]);
  t.true(n > 100);
  t.true(v.stderr.split('\n').filter((l) => /^ {2}(missing key|unexpected key|')/.test(l)).length === n, 'every problem listed');
});

test('usage: every command answers --help; an unknown flag names the closest one (exit 2)', async (t) => {
  for (const cmd of ['run', 'describe', 'convert', 'list', 'bench', 'doctor', 'classify', 'embed', 'features', 'preprocess']) {
    const r = await vitnode([cmd, '--help']);
    t.is(r.code, 0, `${cmd}: ${r.stderr}`);
    t.regex(r.stdout, new RegExp(`^usage: vitnode ${cmd} `), cmd);
    t.regex(r.stdout, new RegExp(`^ {2}${cmd} `, 'm'), cmd);
  }
  const k = await vitnode(['classify', '--model', DIGITS, '--topk', '1', IMG]);
  t.is(k.code, 2);
  t.is(k.stderr.trim(), "vitnode classify: [VIT_E_USAGE] unknown option '--topk'; did you mean --top-k? (--help lists the options)");
  const o = await vitnode(['bench', 'deit_tiny_patch16_224', '--batchsize', '2']);
  t.regex(o.stderr, /did you mean --batch\?/);
});

test('a closed stdout (| head -1) ends the command quietly', async (t) => {
  const main = join(ROOT, 'lib', 'cli', 'main.ts');
  const script = `"${process.execPath}" --import=tsx "${main}" classify --model "${DIGITS}" --batch-size 1 --top-k 1 '${DIGITS}/images/*.png' 2>"$ERR" | head -1; echo "status \${PIPESTATUS[0]}"`;
  const err = join(tmpDir(t), 'err.txt');
  const r = await promisify(execFile)('bash', ['-c', script], { cwd: ROOT, env: { ...process.env, ERR: err } });
  const [line, status] = r.stdout.trim().split('\n');
  t.regex(line, /000_label2\.png: 2 \(/);
  t.is(status, 'status 0');
  const { readFileSync } = await import('node:fs');
  t.is(readFileSync(err, 'utf8'), '', 'no EPIPE stack');
});

test('doctor names the build and, when CUDA is not compiled in, why and how to get it', async (t) => {
  const r = await vitnode(['doctor']);
  t.is(r.code, 0);
  t.regex(r.stdout, /^build: (built from source with (cmake-js|node-gyp)|prebuilt addon) /m);
  t.regex(r.stdout, /^cuda: {2}(available|unavailable: )/m);
  const j = JSON.parse((await vitnode(['doctor', '--json'])).stdout);
  if (!j.cuda.compiled) t.regex(j.cuda.reason, /cmake-js|binding\.gyp|prebuild/);
  t.true(['prebuild', 'cmake-js', 'node-gyp', 'unknown'].includes(j.build.kind));
});
