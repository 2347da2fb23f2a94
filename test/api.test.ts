// Model API semantics (timm's): forward = forwardHead(forwardFeatures), preLogits, resetClassifier, batch
// independence, thread counts, concurrent calls, dynamic padding, class-count overrides on load.
import test from 'ava';
import { join } from 'node:path';
import { GraphBuilder } from '../lib/graph/builder.ts';
import { createModel, Tensor } from '../lib/index.ts';
import { createModelModule } from '../lib/models/index.ts';
import { BASIC, basicCheckpoint, close, concat, manifest, PARITY, readIo, relErr, rows, type ParityCase } from './helpers.ts';

const byName = (n: string) => [...manifest('modern'), ...manifest('seed')].find((c) => c.name === n)!;
const eraOf = (c: ParityCase) => (c.config.architecture.startsWith('legacy:') ? 'seed' : 'modern');
const load = (c: ParityCase, o: Record<string, unknown> = {}) => createModel(c.config, { checkpoint: join(PARITY, eraOf(c), c.weights), ...o });
const ioOf = (c: ParityCase) => readIo(eraOf(c), c.io);
const tensor = (v: { shape: number[]; data: Float32Array }) => new Tensor(v.data, v.shape);

for (const name of ['vit_basic', 'vit_avgpool', 'deit_distilled', 'vit_dynamic_up']) {
  test(`${name}: forwardHead(forwardFeatures(x)) == forward(x); forwardHead preLogits == pre_logits`, async (t) => {
    const c = byName(name);
    const io = ioOf(c);
    const m = await load(c);
    t.teardown(() => m.dispose());
    const x = tensor(io.get('input')!);
    const f = await m.forwardFeatures(x);
    const viaHead = await m.forwardHead(f);
    const direct = await m.forward(x);
    close(t, viaHead, io.get('logits')!, 'forwardHead(forwardFeatures)');
    close(t, viaHead, direct, 'equals forward', 1e-6);
    const pre = await m.forwardHead(f, { preLogits: true });
    t.deepEqual([...pre.shape], [2, m.numFeatures]);
    if (io.has('pre_logits')) close(t, pre, io.get('pre_logits')!, 'preLogits');
    // forwardHead on timm's own features too
    close(t, await m.forwardHead(tensor(io.get('features')!)), io.get('logits')!, 'forwardHead(timm features)');
  });
}

test('legacy models: forwardFeatures is the pooled pre_logits; forwardHead is a modern API', async (t) => {
  const c = byName('seed_in21k_repr');
  const io = ioOf(c);
  const m = await load(c);
  t.teardown(() => m.dispose());
  t.is(m.numFeatures, 64);
  close(t, await m.forwardFeatures(tensor(io.get('input')!)), io.get('pre_logits')!, 'legacy forwardFeatures');
  await t.throwsAsync(m.forwardHead(tensor(io.get('pre_logits')!)), { code: 'VIT_E_UNSUPPORTED' });
});

test('getClassifier returns the loaded head; resetClassifier(n) gives a fresh n-way head used by forward', async (t) => {
  const io = ioOf(BASIC);
  const m = await load(BASIC);
  t.teardown(() => m.dispose());
  const [head] = m.getClassifier();
  t.is(head.name, 'head');
  close(t, head.weight, m.getWeight('head.weight'), 'head.weight', 0);
  t.deepEqual([...head.weight.shape], [10, 64]);
  const x = tensor(io.get('input')!);
  const pre = io.get('pre_logits')!.data;

  m.resetClassifier(3);
  t.is(m.numClasses, 3);
  const [h3] = m.getClassifier();
  t.deepEqual([...h3.weight.shape], [3, 64]);
  const y = await m.forward(x);
  const want = new Float32Array(6);
  for (let b = 0; b < 2; b++)
    for (let c = 0; c < 3; c++) {
      let s = h3.bias.data[c];
      for (let k = 0; k < 64; k++) s += pre[b * 64 + k] * h3.weight.data[c * 64 + k];
      want[b * 3 + c] = s;
    }
  close(t, y, { shape: [2, 3], data: want }, 'logits of the new head = pre_logits W^T + b');
  // the trunk is untouched
  close(t, await m.forwardFeatures(x), io.get('features')!, 'features after reset');
});

test('resetClassifier(0): forward gives the numFeatures-wide pre_logits; with a new pool, the pooled features', async (t) => {
  const io = ioOf(BASIC);
  const m = await load(BASIC);
  t.teardown(() => m.dispose());
  const x = tensor(io.get('input')!);
  m.resetClassifier(0);
  t.is(m.numClasses, 0);
  t.deepEqual(m.getClassifier(), []);
  t.false(m.stateDictShapes().some(([k]) => k.startsWith('head')));
  t.false([...m.stateDict().keys()].some((k) => k.startsWith('head')));
  const y = await m.forward(x);
  t.deepEqual([...y.shape], [2, m.numFeatures]);
  close(t, y, io.get('pre_logits')!, 'forward == pre_logits');

  m.resetClassifier(0, 'avg');
  const feats = io.get('features')!; // [2, 17, 64]
  const avg = new Float32Array(128);
  for (let b = 0; b < 2; b++)
    for (let k = 0; k < 64; k++) {
      let s = 0;
      for (let r = 1; r < 17; r++) s += feats.data[(b * 17 + r) * 64 + k];
      avg[b * 64 + k] = s / 16;
    }
  close(t, await m.forward(x), { shape: [2, 64], data: avg }, 'avg-pooled patch tokens');
});

test('logits-only forward: the last block computes only the tokens the head reads, same numbers', async (t) => {
  for (const [name, keep] of [['vit_basic', 1], ['deit_distilled', 2], ['vit_avgpool', null]] as const) {
    const c = byName(name);
    const io = ioOf(c);
    const m = await load(c);
    const vit = createModelModule(m.config);
    t.is(vit.headTokens, keep, `${name}: head tokens`);
    // The graph: the last attention runs `keep` queries and the MLP after it `keep` rows.
    const g = new GraphBuilder();
    const x = g.input(io.get('input')!.shape);
    const { features } = vit.buildFeatures(g, x, undefined, keep ?? undefined);
    g.output('logits', vit.buildHead(g, features).logits);
    const spec = g.spec();
    const attn = spec.nodes.filter((n) => n.op === 'attention');
    const last = attn[attn.length - 1];
    t.is(last.attrs?.queries, keep ?? undefined, `${name}: last attention queries`);
    t.true(attn.slice(0, -1).every((n) => n.attrs?.queries === undefined), `${name}: earlier blocks compute every token`);
    const fc1 = spec.nodes.filter((n) => n.name.endsWith('mlp.fc1')).pop()!;
    const tokens = spec.shapes[attn[0].inputs[0]][1];
    t.is(spec.shapes[fc1.output][1], keep ?? tokens, `${name}: last fc1 rows (of ${tokens} tokens)`);
    // Numbers: pruned (default on CPU) and full (VITNODE_PRUNE_LAST_BLOCK=0) both match timm and each other.
    const input = tensor(io.get('input')!);
    const pruned = await m.forward(input);
    process.env.VITNODE_PRUNE_LAST_BLOCK = '0';
    const full = await load(c);
    const y = await full.forward(input);
    delete process.env.VITNODE_PRUNE_LAST_BLOCK;
    close(t, pruned, io.get('logits')!, `${name}: pruned vs timm`);
    close(t, pruned, y, `${name}: pruned vs full`, 1e-5);
    m.dispose();
    full.dispose();
  }
});

test('batch sizes 1 and 3 give the same per-image results as batch 2', async (t) => {
  const c = byName('vit_dynamic_up'); // non-square input, dynamic pos_embed
  const io = ioOf(c);
  const m = await load(c);
  t.teardown(() => m.dispose());
  const x = io.get('input')!;
  const want = io.get('logits')!;
  const wantF = io.get('features')!;
  const [x0, x1] = [rows(x, 0, 1), rows(x, 1, 2)];
  close(t, await m.forward(x0), rows(want, 0, 1), 'batch 1, image 0');
  close(t, await m.forward(x1), rows(want, 1, 2), 'batch 1, image 1');
  const r3 = await m.run(concat([x1, x0, x1]), { outputs: ['logits', 'features'] });
  close(t, r3.logits as Tensor, concat([rows(want, 1, 2), rows(want, 0, 1), rows(want, 1, 2)]), 'batch 3 logits');
  close(t, r3.features as Tensor, concat([rows(wantF, 1, 2), rows(wantF, 0, 1), rows(wantF, 1, 2)]), 'batch 3 features');
  const big = concat(Array.from({ length: 9 }, (_, i) => (i % 2 ? x1 : x0)));
  const y9 = await m.forward(big);
  for (let i = 0; i < 9; i++) close(t, rows(y9, i, i + 1), rows(want, i % 2, (i % 2) + 1), `batch 9, row ${i}`);
});

test('threads 1 and 2 agree (and match timm)', async (t) => {
  const io = ioOf(BASIC);
  const m1 = await load(BASIC, { threads: 1 });
  const m2 = await load(BASIC, { threads: 2 });
  t.teardown(() => { m1.dispose(); m2.dispose(); });
  const x = tensor(io.get('input')!);
  const [a, b] = [await m1.run(x, { outputs: ['logits', 'features'] }), await m2.run(x, { outputs: ['logits', 'features'] })];
  close(t, a.logits as Tensor, io.get('logits')!, 'threads 1');
  close(t, b.logits as Tensor, io.get('logits')!, 'threads 2');
  t.true(relErr((a.features as Tensor).data, (b.features as Tensor).data) <= 1e-5);
  t.true(relErr((a.logits as Tensor).data, (b.logits as Tensor).data) <= 1e-5);
});

test('concurrent forwards (Promise.all of 4, different shapes and outputs) are all correct', async (t) => {
  const io = ioOf(BASIC);
  const m = await load(BASIC, { threads: 2 });
  t.teardown(() => m.dispose());
  const x = io.get('input')!;
  for (let round = 0; round < 3; round++) {
    const [a, b, c, d] = await Promise.all([
      m.forward(tensor(x)),
      m.forward(rows(x, 1, 2)),
      m.forwardFeatures(tensor(x)),
      m.forwardIntermediates(tensor(x), { indices: [0, -1], norm: true, outputFmt: 'NLC', intermediatesOnly: true }) as Promise<Tensor[]>,
    ]);
    close(t, a, io.get('logits')!, `round ${round}: logits`);
    close(t, b, rows(io.get('logits')!, 1, 2), `round ${round}: image 1`);
    close(t, c, io.get('features')!, `round ${round}: features`);
    close(t, d[1], io.get('intermediates_norm_nlc.1')!, `round ${round}: intermediates`);
  }
  // the same request 4 times at once
  const same = await Promise.all(Array.from({ length: 4 }, () => m.forward(tensor(x))));
  for (const y of same) close(t, y, io.get('logits')!, 'identical concurrent request');
});

test('forwardIntermediates: indices as a count, NCHW / NLC, with and without norm', async (t) => {
  const io = ioOf(BASIC);
  const m = await load(BASIC);
  t.teardown(() => m.dispose());
  const x = tensor(io.get('input')!);
  const last2 = (await m.forwardIntermediates(x, { indices: 2, intermediatesOnly: true })) as Tensor[];
  t.is(last2.length, 2);
  close(t, last2[0], io.get('intermediates.1')!, 'indices 2 -> blocks 1, 2');
  close(t, last2[1], io.get('intermediates.2')!, 'indices 2 -> block 2');
  const nlc = (await m.forwardIntermediates(x, { indices: [2], outputFmt: 'NLC', intermediatesOnly: true })) as Tensor[];
  const nchw = io.get('intermediates.2')!; // [2, 64, 4, 4] -> [2, 16, 64]
  const want = new Float32Array(nchw.data.length);
  for (let b = 0; b < 2; b++) for (let c = 0; c < 64; c++) for (let i = 0; i < 16; i++) want[(b * 16 + i) * 64 + c] = nchw.data[(b * 64 + c) * 16 + i];
  close(t, nlc[0], { shape: [2, 16, 64], data: want }, 'NLC is the NCHW map transposed');
  // the last block normed equals the final features' patch tokens
  const normed = (await m.forwardIntermediates(x, { indices: [-1], norm: true, outputFmt: 'NLC', intermediatesOnly: true })) as Tensor[];
  const f = io.get('features')!;
  close(t, normed[0], { shape: [2, 16, 64], data: Float32Array.from({ length: 2048 }, (_, i) => f.data[(Math.floor(i / 1024) * 17 + 1 + Math.floor((i % 1024) / 64)) * 64 + (i % 64)]) }, 'normed last block = features[:, 1:]');
});

test('dynamicImgPad: a 36x36 input equals the dynamic model on the zero-padded 40x40 input', async (t) => {
  const c = byName('vit_dynamic_up');
  const padModel = await load(c, { dynamicImgPad: true });
  const dynModel = await load(c);
  t.teardown(() => { padModel.dispose(); dynModel.dispose(); });
  const x = ioOf(c).get('input')!; // [2, 3, 40, 48]
  const small = new Float32Array(2 * 3 * 36 * 36);
  const padded = new Float32Array(2 * 3 * 40 * 40);
  for (let bc = 0; bc < 6; bc++)
    for (let y = 0; y < 36; y++)
      for (let xx = 0; xx < 36; xx++) {
        const v = x.data[(bc * 40 + y) * 48 + xx];
        small[(bc * 36 + y) * 36 + xx] = v;
        padded[(bc * 40 + y) * 40 + xx] = v;
      }
  const a = await padModel.forward(new Tensor(small, [2, 3, 36, 36]));
  const b = await dynModel.forward(new Tensor(padded, [2, 3, 40, 40]));
  close(t, a, b, 'padded == zero-padded', 1e-6);
  t.true(relErr(a.data, (await dynModel.forward(tensor(x))).data) > 1e-3, 'and differs from another input');
});

test('numClasses different from the checkpoint: the head is re-initialised, the trunk loads', async (t) => {
  const io = ioOf(BASIC);
  const m = await createModel(BASIC.config, { checkpoint: basicCheckpoint, numClasses: 4 });
  t.teardown(() => m.dispose());
  t.deepEqual(m.loadReport!.reinitialised.sort(), ['head.bias', 'head.weight']);
  t.true(m.loadReport!.dropped.includes('head.weight'));
  const r = await m.run(tensor(io.get('input')!), { outputs: ['logits', 'pre_logits'] });
  t.deepEqual([...(r.logits as Tensor).shape], [2, 4]);
  close(t, r.pre_logits as Tensor, io.get('pre_logits')!, 'pre_logits still timm');
  const m0 = await createModel(BASIC.config, { checkpoint: basicCheckpoint, numClasses: 0 });
  t.teardown(() => m0.dispose());
  close(t, await m0.forward(tensor(io.get('input')!)), io.get('pre_logits')!, 'numClasses 0: forward = pre_logits');
});

test('random init is seeded: same seed, same output; different seed, different output', async (t) => {
  const x = new Tensor(new Float32Array(3 * 32 * 32).map((_, i) => Math.sin(i)), [1, 3, 32, 32]);
  const cfg = BASIC.config;
  const [a, b, c] = await Promise.all([createModel(cfg, { seed: 1 }), createModel(cfg, { seed: 1 }), createModel(cfg, { seed: 2 })]);
  t.teardown(() => { a.dispose(); b.dispose(); c.dispose(); });
  const [ya, yb, yc] = await Promise.all([a.forward(x), b.forward(x), c.forward(x)]);
  t.deepEqual(ya.data, yb.data);
  t.true(relErr(ya.data, yc.data) > 1e-3);
});

test('forwardIntermediates stopEarly: the trunk stops at the last index, features are that block normed (timm stop_early)', async (t) => {
  const c = byName('vit_basic');
  const io = ioOf(c);
  const m = await load(c);
  t.teardown(() => m.dispose());
  const x = tensor(io.get('input')!);
  const r = (await m.forwardIntermediates(x, { indices: [0], stopEarly: true, outputFmt: 'NLC', norm: true })) as { features: Tensor; intermediates: Tensor[] };
  const want = io.get('intermediates_norm_nlc.0')!; // norm(block 0), patch tokens
  close(t, r.intermediates[0], want, 'intermediate');
  const [b, T, D] = r.features.shape;
  const np = m.numPrefixTokens;
  const patches = new Float32Array(b * (T - np) * D);
  for (let i = 0; i < b; i++) patches.set(r.features.data.subarray((i * T + np) * D, (i + 1) * T * D), i * (T - np) * D);
  close(t, new Tensor(patches, [b, T - np, D]), want, 'features = norm(block 0 output)');
  const full = (await m.forwardIntermediates(x, { indices: [0], outputFmt: 'NLC' })) as { features: Tensor };
  close(t, full.features, io.get('features')!, 'without stopEarly: every block');
});
