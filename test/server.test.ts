// The example server (examples/server): endpoints, error mapping, Prometheus metrics, drain on close.
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nativeStats } from '../lib/index.ts';
import { startServer, type RunningServer } from '../examples/server/server.ts';
import { FIXTURES } from './helpers.ts';

const DIR = join(FIXTURES, 'digits');
const IMAGES = join(DIR, 'images');
const files = readdirSync(IMAGES).filter((f) => f.endsWith('.png')).sort();
const png = (i: number) => readFileSync(join(IMAGES, files[i]));
const label = (i: number) => /label(\d+)/.exec(files[i])![1];

let srv: RunningServer;
test.before(async () => {
  srv = await startServer({ model: join(DIR, 'config.json'), checkpoint: join(DIR, 'model.safetensors'), port: 0, threads: 2, maxBatchSize: 8, maxDelayMs: 20 });
});
test.after.always(async () => srv?.close());

const post = (path: string, body: Buffer) => fetch(srv.url + path, { method: 'POST', body: new Uint8Array(body), headers: { 'content-type': 'image/png' } });

test.serial('POST /v1/classify: concurrent requests, right labels, merged into batches', async (t) => {
  const rs = await Promise.all([...Array(16).keys()].map((i) => post('/v1/classify?topK=3', png(i))));
  for (const [i, r] of rs.entries()) {
    t.is(r.status, 200);
    const j = (await r.json()) as { predictions: { label: string; score: number }[] };
    t.is(j.predictions.length, 3);
    t.is(j.predictions[0].label, label(i));
  }
  const m = await (await fetch(srv.url + '/metrics')).text();
  const batches = Number(/^vitnode_batches_total\{[^}]*\} (\d+)$/m.exec(m)![1]);
  t.true(batches < 16, `16 concurrent requests ran in ${batches} batches`);
});

test.serial('POST /v1/embed and /v1/features', async (t) => {
  const e = (await (await post('/v1/embed', png(0))).json()) as { dim: number; embedding: number[] };
  t.is(e.dim, 96);
  t.is(e.embedding.length, 96);
  const r = await post('/v1/features?outIndices=1,2&format=NLC', png(1));
  t.is(r.status, 200);
  const f = (await r.json()) as { features: { shape: number[]; data: number[] }[]; featureInfo: { module: string }[] };
  t.deepEqual(f.features.map((x) => x.shape), [[1, 64, 96], [1, 64, 96]]);
  t.deepEqual(f.featureInfo.map((x) => x.module), ['blocks.1', 'blocks.2']);
  t.is(f.features[0].data.length, 64 * 96);
});

test.serial('errors: bad image 400, unknown route 404, wrong method 405, bad param 400 (JSON bodies)', async (t) => {
  const bad = await post('/v1/classify', Buffer.from('definitely not a png'));
  t.is(bad.status, 400);
  t.is(((await bad.json()) as { error: { code: string } }).error.code, 'VIT_E_IMAGE');
  t.is((await fetch(srv.url + '/v2/nothing')).status, 404);
  t.is((await fetch(srv.url + '/v1/classify')).status, 405);
  t.is((await post('/v1/classify?topK=0', png(0))).status, 400);
  t.is((await post('/v1/classify', Buffer.alloc(0))).status, 400);
});

test.serial('GET /healthz and GET /metrics (Prometheus text)', async (t) => {
  const h = await fetch(srv.url + '/healthz');
  t.is(h.status, 200);
  t.is(((await h.json()) as { status: string }).status, 'ok');
  const m = await fetch(srv.url + '/metrics');
  t.regex(m.headers.get('content-type')!, /^text\/plain/);
  const text = await m.text();
  for (const name of ['vitnode_queue_depth', 'vitnode_batch_size_bucket', 'vitnode_request_latency_seconds', 'nodejs_eventloop_delay_seconds', 'process_resident_memory_bytes', 'vitnode_native_weight_bytes']) {
    t.regex(text, new RegExp(`^${name}\\{?`, 'm'), name);
  }
  t.regex(text, /^vitnode_native_weight_stores 1$/m);
});

test.serial('overload: a full queue answers 429 with Retry-After', async (t) => {
  const s = await startServer({ model: join(DIR, 'config.json'), checkpoint: join(DIR, 'model.safetensors'), port: 0, threads: 1, maxBatchSize: 64, maxDelayMs: 500, maxQueue: 2 });
  t.teardown(() => s.close());
  const rs = await Promise.all([0, 1, 2, 3].map((i) => fetch(s.url + '/v1/classify', { method: 'POST', body: new Uint8Array(png(i)) })));
  const codes = rs.map((r) => r.status).sort();
  t.deepEqual(codes, [200, 200, 429, 429]);
  t.is(rs.find((r) => r.status === 429)!.headers.get('retry-after'), '1');
});

test.serial('close(): drains, refuses, and frees every native object', async (t) => {
  const before = nativeStats();
  const s = await startServer({ model: join(DIR, 'config.json'), checkpoint: join(DIR, 'model.safetensors'), port: 0, threads: 1, maxDelayMs: 5000 });
  const during = nativeStats();
  t.is(during.weightStores, before.weightStores + 1);
  const inflight = [0, 1, 2].map((i) => fetch(s.url + '/v1/classify', { method: 'POST', body: new Uint8Array(png(i)) }));
  await new Promise((r) => setTimeout(r, 100));
  await s.close(); // does not wait the 5 s batching delay
  t.deepEqual((await Promise.all(inflight)).map((r) => r.status), [200, 200, 200]);
  t.deepEqual(nativeStats(), before);
});
