// The dynamic batcher (lib/serve): batching really merges concurrent requests, answers equal single forwards and
// come back to the right caller, backpressure, abort, timeout, graceful drain, metrics.
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createBatcher, createModel, createPool, readSafetensors, Tensor, VitError, type VitModel } from '../lib/index.ts';
import { argmax, close, FIXTURES } from './helpers.ts';

const DIR = join(FIXTURES, 'digits');
const io = readSafetensors(join(DIR, 'input.safetensors'));
const input = io.get('input')!;
const expected = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as { images: { file: string; pred: number }[] };
const PER = 3 * 32 * 32;
const image = (i: number) => new Tensor(input.data.slice(i * PER, (i + 1) * PER), [1, 3, 32, 32]);

let model: VitModel;
test.before(async () => {
  model = await createModel(join(DIR, 'config.json'), { checkpoint: join(DIR, 'model.safetensors'), threads: 2 });
});
test.after.always(() => model?.dispose());

const code = (e: unknown) => (e as VitError).code;

test('concurrent single-image requests merge into batches; each caller gets its own row, equal to a single forward', async (t) => {
  const b = createBatcher(model, { maxBatchSize: 8, maxDelayMs: 50 });
  const idx = [...Array(20).keys()].map((i) => (i * 7) % 60);
  const outs = await Promise.all(idx.map((i) => b.forward(image(i))));
  const m = b.metrics();
  t.is(m.batches, 3, 'three batches for 20 requests (8 + 8 + 4)');
  t.is(m.batchSizes[8], 2);
  t.is(m.batchSizes[4], 1);
  t.is(m.requests.ok, 20);
  t.is(m.queueDepth, 0);
  t.is(m.latencyMs.count, 20);
  for (const [j, i] of idx.entries()) {
    const single = await model.forward(image(i));
    close(t, outs[j], single, `request ${j} (image ${i})`, 1e-5);
    t.is(argmax(outs[j].data), expected.images[i].pred);
  }
  await b.close();
});

test('image requests: classify / embed / features of the digit PNGs, merged by kind', async (t) => {
  const b = createBatcher(model, { maxBatchSize: 16, maxDelayMs: 30 });
  const dir = join(FIXTURES, 'digits', 'images');
  const files = readdirSync(dir).filter((f) => f.endsWith('.png')).sort().slice(0, 24);
  const [preds, embs, feats] = await Promise.all([
    Promise.all(files.map((f) => b.classify(join(dir, f), { topK: 2 }))),
    Promise.all(files.slice(0, 5).map((f) => b.embed(readFileSync(join(dir, f))))),
    Promise.all(files.slice(0, 3).map((f) => b.features(join(dir, f), { outIndices: [1], format: 'NLC' }))),
  ]);
  for (const [i, f] of files.entries()) {
    t.is(preds[i].length, 2);
    t.is(preds[i][0].label, /label(\d+)/.exec(f)![1], f);
  }
  const whole = await model.embed(files.slice(0, 5).map((f) => join(dir, f)));
  embs.forEach((e, i) => close(t, e, whole.at(i) && new Tensor(whole.data.slice(i * 96, (i + 1) * 96), [1, 96]), `embedding ${i}`, 1e-5));
  t.deepEqual([...feats[0][0].shape], [1, 64, 96]);
  const m = b.metrics();
  t.is(m.requests.ok, 32);
  t.true(m.batches <= 6, `classify (24), embed (5), features (3) merge by kind: ${m.batches} batches`);
  t.true(m.batchSizes.slice(2).some((c) => c > 0), 'some batch has more than one request');
  await b.close();
});

test('classify: every request of a batch gets the label names (not just the first)', async (t) => {
  const cfg = JSON.parse(readFileSync(join(DIR, 'config.json'), 'utf8'));
  const names = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];
  cfg.pretrained_cfg = { ...cfg.pretrained_cfg, label_names: names };
  const named = await createModel(cfg, { checkpoint: join(DIR, 'model.safetensors'), threads: 1 });
  t.teardown(() => named.dispose());
  const b = createBatcher(named, { maxBatchSize: 8, maxDelayMs: 30 });
  const dir = join(FIXTURES, 'digits', 'images');
  const files = readdirSync(dir).filter((f) => f.endsWith('.png')).sort().slice(0, 8);
  const preds = await Promise.all(files.map((f) => b.classify(join(dir, f), { topK: 1 })));
  t.deepEqual(preds.map((p) => p[0].label), files.map((f) => names[Number(/label(\d+)/.exec(f)![1])]));
  t.is(b.metrics().batchSizes[8], 1);
  await b.close();
});

test('a bad image fails only its own request', async (t) => {
  const b = createBatcher(model, { maxDelayMs: 20 });
  const good = join(FIXTURES, 'digits', 'images', readdirSync(join(FIXTURES, 'digits', 'images')).sort()[0]);
  const [ok, bad] = await Promise.allSettled([b.classify(good), b.classify(Buffer.from('not an image'))]);
  t.is(ok.status, 'fulfilled');
  t.is(bad.status, 'rejected');
  t.is(code((bad as PromiseRejectedResult).reason), 'VIT_E_IMAGE');
  t.is(b.metrics().requests.failed, 1);
  await b.close();
});

test('backpressure: a full queue refuses at once with VIT_E_OVERLOADED; the admitted ones still run', async (t) => {
  const b = createBatcher(model, { maxBatchSize: 8, maxDelayMs: 10_000, maxQueue: 4 });
  const admitted = [0, 1, 2, 3].map((i) => b.forward(image(i)));
  const refused = await Promise.allSettled([b.forward(image(4)), b.forward(image(5))]);
  for (const r of refused) {
    t.is(r.status, 'rejected');
    t.is(code((r as PromiseRejectedResult).reason), 'VIT_E_OVERLOADED');
    t.true((r as PromiseRejectedResult).reason instanceof VitError);
  }
  t.is(b.metrics().requests.rejected, 2);
  t.is(b.metrics().queueDepth, 4);
  await b.close(); // drains without waiting for the 10 s delay
  t.is((await Promise.all(admitted)).length, 4);
  t.is(b.metrics().batchSizes[4], 1);
});

test('abort: a queued request leaves the queue at once; an aborted signal is refused', async (t) => {
  const b = createBatcher(model, { maxDelayMs: 10_000 });
  const ac = new AbortController();
  const p = b.forward(image(0), { signal: ac.signal });
  const other = b.forward(image(1));
  t.is(b.metrics().queueDepth, 2);
  ac.abort(new Error('client went away'));
  const e = await t.throwsAsync(p);
  t.is(code(e), 'VIT_E_ABORTED');
  t.regex(e!.message, /client went away/);
  t.is(b.metrics().queueDepth, 1);
  t.is(code(await t.throwsAsync(b.forward(image(2), { signal: AbortSignal.abort() }))), 'VIT_E_ABORTED');
  await b.close();
  await other;
  const m = b.metrics();
  t.is(m.requests.aborted, 1);
  t.is(m.batchSizes[1], 1, 'only the live request ran');
});

test('per-request timeout: VIT_E_TIMEOUT, and the request is dropped from its batch', async (t) => {
  const b = createBatcher(model, { maxDelayMs: 5000, timeoutMs: 0 });
  const t0 = performance.now();
  const e = await t.throwsAsync(b.forward(image(0), { timeoutMs: 20 }));
  t.is(code(e), 'VIT_E_TIMEOUT');
  t.true(performance.now() - t0 < 2000, 'settled at its deadline, not when the batch would have run (5 s)');
  const d = createBatcher(model, { maxDelayMs: 10_000, timeoutMs: 15 });
  t.is(code(await t.throwsAsync(d.forward(image(0)))), 'VIT_E_TIMEOUT', 'the batcher default applies');
  t.is(d.metrics().requests.timedOut, 1);
  t.is(d.metrics().queueDepth, 0);
  await Promise.all([b.close(), d.close()]);
  t.is(b.metrics().batches, 0);
});

test('graceful shutdown: close() drains the queue at once, then refuses with VIT_E_CLOSED; drain: false rejects the queued', async (t) => {
  const b = createBatcher(model, { maxBatchSize: 4, maxDelayMs: 10_000 });
  const ps = [...Array(10).keys()].map((i) => b.forward(image(i)));
  const t0 = performance.now();
  await b.close();
  t.true(performance.now() - t0 < 5000);
  t.is((await Promise.all(ps)).length, 10);
  t.deepEqual(b.metrics().batchSizes, [0, 0, 1, 0, 2]);
  t.is(code(await t.throwsAsync(b.forward(image(0)))), 'VIT_E_CLOSED');

  const c = createBatcher(model, { maxDelayMs: 10_000 });
  const q = [c.forward(image(0)), c.forward(image(1))];
  await c.close({ drain: false });
  for (const r of await Promise.allSettled(q)) t.is(code((r as PromiseRejectedResult).reason), 'VIT_E_CLOSED');
});

test('wrong shapes are refused before they join a batch', async (t) => {
  const b = createBatcher(model);
  t.is(code(await t.throwsAsync(b.forward(new Tensor(new Float32Array(2 * PER), [2, 3, 32, 32])))), 'VIT_E_SHAPE');
  t.is(code(await t.throwsAsync(b.forward(new Tensor(new Float32Array(3 * 16 * 16), [3, 16, 16])))), 'VIT_E_SHAPE');
  t.is(b.metrics().requests.total, 0);
  await b.close();
});

test('pool: instances behind one front, requests spread, Prometheus text', async (t) => {
  const pool = await createPool(join(DIR, 'config.json'), {
    devices: ['cpu'],
    instancesPerDevice: 2,
    threads: 2,
    model: { checkpoint: join(DIR, 'model.safetensors') },
    batcher: { maxBatchSize: 4, maxDelayMs: 20 },
  });
  const outs = await Promise.all([...Array(16).keys()].map((i) => pool.forward(image(i))));
  outs.forEach((o, i) => t.is(argmax(o.data), expected.images[i].pred));
  const per = pool.metrics().map((m) => m.metrics.requests.ok);
  t.deepEqual(per, [8, 8]);
  const text = pool.prometheus().toString();
  t.regex(text, /^# TYPE vitnode_queue_depth gauge$/m);
  t.regex(text, /^vitnode_queue_depth\{instance="0",device="cpu"\} 0$/m);
  t.regex(text, /^vitnode_batch_size_bucket\{instance="1",device="cpu",le="4"\} 2$/m);
  t.regex(text, /^vitnode_request_latency_seconds\{instance="0",device="cpu",quantile="0.99"\} [0-9.e-]+$/m);
  await pool.close();
});
