// Hugging Face hub sources against a local server on 127.0.0.1 (test/hub-server.ts): hf-hub: names, model folders,
// { pretrained: true }, the huggingface_hub cache layout, resume, checksums, HF_HUB_OFFLINE, HF_TOKEN, 401/404 and
// network errors. Serial: the tests set process-wide HF_* variables.
import test from 'ava';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { createModel, Tensor } from '../lib/index.ts';
import { hubDownload } from '../lib/hub/download.ts';
import { resolveModel } from '../lib/registry/index.ts';
import { writeSafetensors } from '../lib/weights/safetensors.ts';
import { BASIC, basicCheckpoint, close, PARITY, readIo, tmpDir } from './helpers.ts';
import { HubServer } from './hub-server.ts';

const io = readIo('modern', BASIC.io);
const x = new Tensor(io.get('input')!.data, io.get('input')!.shape);
const logits = io.get('logits')!;
const config = Buffer.from(JSON.stringify({ ...BASIC.config, pretrained_cfg: { tag: 'test', num_classes: 10 } }));
const weights = readFileSync(basicCheckpoint);
const pth = readFileSync(join(PARITY, 'modern', 'vit_basic.pth'));
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const hub = new HubServer();
hub.add('timm/vit_basic', { 'config.json': config, 'model.safetensors': weights });
hub.add('timm/vit_basic_bin', { 'config.json': config, 'pytorch_model.bin': pth });
hub.add('org/private', { 'config.json': config, 'model.safetensors': weights }, 'secret');

const ENV = ['HF_ENDPOINT', 'HF_HUB_CACHE', 'HF_HOME', 'HF_HUB_OFFLINE', 'HF_TOKEN', 'HF_TOKEN_PATH', 'TORCH_HOME'];
const saved = Object.fromEntries(ENV.map((k) => [k, process.env[k]]));

test.before(async () => {
  await hub.start();
});
test.after.always(async () => {
  await hub.stop();
  for (const k of ENV) if (saved[k] === undefined) delete process.env[k];
  else process.env[k] = saved[k];
});

/** A fresh empty cache and the local endpoint for this test. */
function env(t: import('ava').ExecutionContext, extra: Record<string, string> = {}): string {
  const dir = tmpDir(t);
  for (const k of ENV) delete process.env[k];
  Object.assign(process.env, { HF_ENDPOINT: hub.endpoint, HF_HUB_CACHE: join(dir, 'hub'), HF_HOME: join(dir, 'hf'), TORCH_HOME: join(dir, 'torch') }, extra);
  hub.log.length = 0;
  return join(dir, 'hub');
}

test.serial('hf-hub:org/name downloads config + model.safetensors into the huggingface_hub cache layout and matches timm', async (t) => {
  const cache = env(t);
  const m = await createModel('hf-hub:timm/vit_basic');
  t.teardown(() => m.dispose());
  close(t, await m.forward(x), logits, 'logits');
  const repo = join(cache, 'models--timm--vit_basic');
  const commit = hub.repos.get('timm/vit_basic')!.commit;
  t.is(readFileSync(join(repo, 'refs', 'main'), 'utf8'), commit);
  const link = join(repo, 'snapshots', commit, 'model.safetensors');
  t.is(readlinkSync(link), join('..', '..', 'blobs', sha(weights)));
  t.deepEqual(readFileSync(link), weights);
  t.true(existsSync(join(repo, 'snapshots', commit, 'config.json')));
  t.deepEqual(readdirSync(join(repo, 'blobs')).filter((f) => f.endsWith('.incomplete')), []);
  t.true(hub.gets('/cdn/').length === 1 && hub.gets('/resolve/main/model.safetensors').length === 0, 'LFS weights via the redirect target (HEAD on resolve, GET on the CDN)');

  // second time: HEAD requests only, no blob download
  hub.log.length = 0;
  const m2 = await createModel('hf-hub:timm/vit_basic');
  m2.dispose();
  t.is(hub.log.filter((l) => l.method === 'GET').length, 0);
  // by commit hash too
  const m3 = await createModel(`hf-hub:timm/vit_basic@${commit}`);
  m3.dispose();
});

test.serial('a repo with only pytorch_model.bin falls back to it (timm order); the cache records the missing file', async (t) => {
  const cache = env(t);
  const m = await createModel('hf-hub:timm/vit_basic_bin');
  t.teardown(() => m.dispose());
  close(t, await m.forward(x), logits, 'logits from pytorch_model.bin');
  const commit = hub.repos.get('timm/vit_basic_bin')!.commit;
  t.true(existsSync(join(cache, 'models--timm--vit_basic_bin', '.no_exist', commit, 'model.safetensors')));
});

test.serial('an interrupted download resumes with a Range request; size and sha256 are verified', async (t) => {
  const cache = env(t);
  hub.cutAfter = 100_000;
  hub.cutCount = 1;
  await t.throwsAsync(createModel('hf-hub:timm/vit_basic'), { code: 'VIT_E_NETWORK', message: /resumes on the next try/ });
  const blobs = join(cache, 'models--timm--vit_basic', 'blobs');
  const part = join(blobs, `${sha(weights)}.incomplete`);
  t.is(statSync(part).size, 100_000);
  hub.log.length = 0;
  const m = await createModel('hf-hub:timm/vit_basic');
  t.teardown(() => m.dispose());
  t.deepEqual(hub.gets('/cdn/').map((l) => l.range), ['bytes=100000-']);
  t.false(existsSync(part));
  t.deepEqual(readFileSync(join(blobs, sha(weights))), weights);
  close(t, await m.forward(x), logits, 'logits after resume');
  hub.cutAfter = null;
});

test.serial('a corrupt download fails the sha256 check and leaves nothing behind', async (t) => {
  const cache = env(t);
  hub.corrupt = true;
  t.teardown(() => { hub.corrupt = false; });
  await t.throwsAsync(hubDownload('timm/vit_basic', 'model.safetensors'), { code: 'VIT_E_IO', message: /checksum mismatch/ });
  const blobs = join(cache, 'models--timm--vit_basic', 'blobs');
  t.deepEqual(readdirSync(blobs), []);
});

test.serial('HF_HUB_OFFLINE=1: cached files load without any request; uncached ones are a clear error', async (t) => {
  env(t);
  (await createModel('hf-hub:timm/vit_basic')).dispose();
  process.env.HF_HUB_OFFLINE = '1';
  hub.log.length = 0;
  const m = await createModel('hf-hub:timm/vit_basic');
  t.teardown(() => m.dispose());
  close(t, await m.forward(x), logits, 'offline logits');
  t.is(hub.log.length, 0, 'no request at all');
  await t.throwsAsync(createModel('hf-hub:timm/vit_basic_bin'), { code: 'VIT_E_NOT_FOUND', message: /HF_HUB_OFFLINE/ });
});

test.serial('a cache written in huggingface_hub layout by someone else (Python) is used as is', async (t) => {
  const cache = env(t, { HF_HUB_OFFLINE: '1' });
  const repo = join(cache, 'models--timm--from_python');
  const commit = 'a'.repeat(40);
  mkdirSync(join(repo, 'blobs'), { recursive: true });
  mkdirSync(join(repo, 'snapshots', commit), { recursive: true });
  mkdirSync(join(repo, 'refs'), { recursive: true });
  copyFileSync(basicCheckpoint, join(repo, 'blobs', sha(weights)));
  const { symlinkSync } = await import('node:fs');
  symlinkSync(join('..', '..', 'blobs', sha(weights)), join(repo, 'snapshots', commit, 'model.safetensors'));
  writeFileSync(join(repo, 'snapshots', commit, 'config.json'), config);
  writeFileSync(join(repo, 'refs', 'main'), commit);
  const m = await createModel('hf-hub:timm/from_python');
  t.teardown(() => m.dispose());
  close(t, await m.forward(x), logits, 'logits');
});

test.serial('network failure: VIT_E_NETWORK, or the cached copy when there is one (as huggingface_hub)', async (t) => {
  env(t);
  (await createModel('hf-hub:timm/vit_basic')).dispose();
  process.env.HF_ENDPOINT = 'http://127.0.0.1:1'; // nothing listens there
  const m = await createModel('hf-hub:timm/vit_basic');
  m.dispose();
  await t.throwsAsync(createModel('hf-hub:timm/vit_basic_bin'), { code: 'VIT_E_NETWORK', message: /network error.*HF_HUB_OFFLINE/s });
});

test.serial('private repos: 401 without a token (HF_TOKEN hint), 403 with a wrong one, loads with HF_TOKEN or the token file', async (t) => {
  const dir = env(t);
  await t.throwsAsync(createModel('hf-hub:org/private'), { code: 'VIT_E_AUTH', message: /HF_TOKEN/ });
  process.env.HF_TOKEN = 'wrong';
  await t.throwsAsync(createModel('hf-hub:org/private'), { code: 'VIT_E_AUTH', message: /HTTP 403.*cannot read/s });
  process.env.HF_TOKEN = 'secret';
  hub.log.length = 0;
  const m = await createModel('hf-hub:org/private');
  m.dispose();
  t.true(hub.log.filter((l) => l.url.includes('/resolve/')).every((l) => l.auth === 'Bearer secret'));
  t.true(hub.gets('/cdn/').every((l) => l.auth === undefined), 'the token is not sent to the redirect target');
  delete process.env.HF_TOKEN;
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, 'secret\n');
  process.env.HF_TOKEN_PATH = tokenFile;
  process.env.HF_HUB_CACHE = join(dir, 'hub2');
  (await createModel('hf-hub:org/private')).dispose();
  t.pass();
});

test.serial('404s: unknown repo, unknown file, unknown revision are typed errors', async (t) => {
  env(t, { HF_TOKEN: 'x' });
  await t.throwsAsync(createModel('hf-hub:nobody/nothing'), { code: 'VIT_E_AUTH', message: /repository not found/ });
  delete process.env.HF_TOKEN;
  await t.throwsAsync(hubDownload('timm/vit_basic', 'nope.txt'), { code: 'VIT_E_NOT_FOUND', message: /no such file/ });
  await t.throwsAsync(createModel('hf-hub:timm/vit_basic@v9'), { code: 'VIT_E_NOT_FOUND', message: /no such revision/ });
  await t.throwsAsync(createModel('hf-hub:not a repo'), { code: 'VIT_E_ARGUMENT' });
});

test.serial('{ pretrained: true } on a registry name downloads its default tag\'s hub weights', async (t) => {
  const cache = env(t);
  const dir = tmpDir(t);
  const name = 'deit_tiny_patch16_224';
  const hubId = resolveModel(name).pretrainedCfg.hf_hub_id!;
  t.is(hubId, 'timm/deit_tiny_patch16_224.fb_in1k');
  // weights with the right shapes (a seeded random model's), served as that repo
  const r = await createModel(name, { seed: 7 });
  const p = join(dir, 'w.safetensors');
  writeSafetensors(p, r.stateDict());
  r.dispose();
  hub.add(hubId, { 'model.safetensors': readFileSync(p) });
  const m = await createModel(name, { pretrained: true });
  t.teardown(() => m.dispose());
  t.true(existsSync(join(cache, 'models--timm--deit_tiny_patch16_224.fb_in1k', 'snapshots')));
  t.deepEqual([...m.getWeight('head.bias').data.slice(0, 4)], [...(await createModel(name, { checkpoint: p })).getWeight('head.bias').data.slice(0, 4)]);
  t.is(m.loadReport.loaded, m.stateDict().size);
  // an explicit checkpoint wins over the download
  hub.log.length = 0;
  (await createModel(name, { pretrained: true, checkpoint: p })).dispose();
  t.is(hub.log.length, 0);
});

test.serial('a local model folder: config.json + model.safetensors, or pytorch_model.bin; pretrained: false skips weights', async (t) => {
  env(t);
  const dir = tmpDir(t);
  writeFileSync(join(dir, 'config.json'), config);
  copyFileSync(join(PARITY, 'modern', 'vit_basic_legacy.pth'), join(dir, 'pytorch_model.bin'));
  const m = await createModel(dir);
  close(t, await m.forward(x), logits, 'folder with pytorch_model.bin');
  m.dispose();
  copyFileSync(basicCheckpoint, join(dir, 'model.safetensors'));
  const m2 = await createModel(dir);
  t.is(m2.loadReport!.loaded, 44);
  m2.dispose();
  const m3 = await createModel(dir, { pretrained: false });
  t.false(m3.loadReport.pretrained);
  m3.dispose();
  const empty = tmpDir(t);
  await t.throwsAsync(createModel(empty), { code: 'VIT_E_IO', message: /config\.json/ });
});
