// Where the time goes, op by op: `node --import=tsx bench/profile-ops.ts [model] [batch] [threads]`.
// vitnode: each op of block 0 (and the patch embedding) is built as its own one-op graph (lib/graph/builder.ts) and
// run through binding.Program on the model's weights; per-forward estimates multiply block ops by the depth.
// onnxruntime-node: the same model with enableProfiling; its per-node kernel times are summed by op type and by
// the vitnode op they correspond to (MatMul+Add(+Erf...) -> linear, etc. — approximate, names from the export).
// Numbers are medians over repeated runs; the machine may be shared, so read them as rough (other load is printed).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binding, type NativeProgram } from '../lib/binding.ts';
import { GraphBuilder, type Sym } from '../lib/graph/builder.ts';
import { VisionTransformer } from '../lib/models/vision-transformer.ts';
import { resolveModel } from '../lib/registry/index.ts';
import { initParams } from '../lib/weights/init.ts';
import { writeOnnxWithWeights } from './onnx-weights.ts';
import { median, seededInput } from './stats.ts';

const model = process.argv[2] ?? 'vit_base_patch16_224';
const batch = Number(process.argv[3] ?? 8);
const threads = Number(process.argv[4] ?? 2);
const seconds = Number(process.env.VITNODE_PROFILE_SECONDS ?? 1);

const cfg = resolveModel(model).config;
const vit = new VisionTransformer(cfg);
const tensors = initParams(vit.params(), 0, cfg.initValues);
const store = new binding.WeightStore();
for (const t of tensors) store.set(t.key, t.shape, t.data);

const [H, W] = cfg.imgSize;
const D = vit.embedDim;
const T = vit.numPrefixTokens + vit.patchEmbed.gridSize[0] * vit.patchEmbed.gridSize[1];
const blk = vit.blocks[0];

function timeProgram(p: NativeProgram, inputs: Float32Array[]): number {
  for (let i = 0; i < 3; i++) p.runSync(inputs, threads);
  const xs: number[] = [];
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000 || xs.length < 10) {
    const t = performance.now();
    p.runSync(inputs, threads);
    xs.push(performance.now() - t);
  }
  return median(xs);
}

function op(name: string, shapes: number[][], build: (g: GraphBuilder, ins: Sym[]) => Sym): [string, number] {
  const g = new GraphBuilder();
  const ins = shapes.map((s) => g.input(s));
  g.output('y', build(g, ins));
  const p = new binding.Program(g.spec(), store);
  const data = shapes.map((s, i) => seededInput(s.reduce((a, b) => a * b, 1), 7 + i));
  const ms = timeProgram(p, data);
  p.dispose();
  return [name, ms];
}

const depth = cfg.depth;
const x3 = [batch, T, D];
const ops: [string, number, number][] = []; // name, ms per call, calls per forward
const add = ([n, ms]: [string, number], calls: number) => ops.push([n, ms, calls]);
add(op('patch_embed', [[batch, 3, H, W]], (g, [x]) => vit.patchEmbed.build(g, x)), 1);
add(op('layer_norm (norm1/norm2)', [x3], (g, [x]) => blk.norm1.build(g, x)), 2 * depth + 1);
add(op('linear qkv', [x3], (g, [x]) => blk.attn.qkv.build(g, x)), depth);
add(op('attention (softmax(qk^T)v)', [[batch, T, 3 * D]], (g, [x]) =>
  g.op('attention', blk.attn.prefix, [x], x3, { attrs: { heads: blk.attn.numHeads, scale: blk.attn.scale } })), depth);
add(op('linear proj + residual', [x3, x3], (g, [x, r]) => blk.attn.proj.build(g, x, { residual: r })), depth);
add(op('linear fc1 + GELU', [x3], (g, [x]) => blk.mlp.fc1.build(g, x, { act: 'gelu' })), depth);
add(op('linear fc1 (no GELU)', [x3], (g, [x]) => blk.mlp.fc1.build(g, x)), 0);
add(op('linear fc2 + residual', [[batch, T, blk.mlp.fc1.outFeatures], x3], (g, [x, r]) => blk.mlp.fc2.build(g, x, { residual: r })), depth);
const [, blockMs] = op('whole block 0', [x3], (g, [x]) => blk.build(g, x));

// Whole forward for reference.
const gf = new GraphBuilder();
const xin = gf.input([batch, 3, H, W]);
const { features } = vit.buildFeatures(gf, xin, { indices: [], norm: false, outputFmt: 'NLC' });
gf.output('logits', vit.buildHead(gf, features).logits);
const fwd = new binding.Program(gf.spec(), store);
const fwdMs = timeProgram(fwd, [seededInput(batch * 3 * H * W, 3)]);
fwd.dispose();

const flops = (m: number, k: number, n: number) => 2 * m * k * n;
const M = batch * T;
const gemmFlops: Record<string, number> = {
  'linear qkv': flops(M, D, 3 * D),
  'linear proj + residual': flops(M, D, D),
  'linear fc1 + GELU': flops(M, D, blk.mlp.fc1.outFeatures),
  'linear fc1 (no GELU)': flops(M, D, blk.mlp.fc1.outFeatures),
  'linear fc2 + residual': flops(M, blk.mlp.fc1.outFeatures, D),
  'attention (softmax(qk^T)v)': 2 * flops(batch * blk.attn.numHeads * T, D / blk.attn.numHeads, T),
};

console.log(`vitnode ${model} batch ${batch}, ${threads} threads (${binding.cpuInfo().gemm}); T=${T}, D=${D}, depth=${depth}`);
console.log(`whole forward ${fwdMs.toFixed(1)} ms; block 0 alone ${blockMs.toFixed(2)} ms (x${depth} = ${(blockMs * depth).toFixed(1)} ms)`);
console.log('op | ms/call | GFLOP/s | calls/forward | ms/forward | share');
const total = ops.reduce((a, [, ms, c]) => a + ms * c, 0);
for (const [n, ms, c] of ops) {
  const gf = gemmFlops[n] ? (gemmFlops[n] / ms / 1e6).toFixed(0) : '';
  console.log(`${n} | ${ms.toFixed(3)} | ${gf} | ${c} | ${(ms * c).toFixed(1)} | ${c ? ((100 * ms * c) / total).toFixed(1) + '%' : ''}`);
}
console.log(`sum of ops ${total.toFixed(1)} ms vs whole forward ${fwdMs.toFixed(1)} ms`);
store.dispose();

// ---- onnxruntime-node per-op profile ----
const ort = await import('onnxruntime-node');
const dir = mkdtempSync(join(tmpdir(), 'vitnode-prof-'));
try {
  const onnx = writeOnnxWithWeights(model, new Map(tensors.map((t) => [t.key, t])), dir);
  const opts = { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential' } as const;
  const feeds = { input: new ort.Tensor('float32', seededInput(batch * 3 * H * W, 3), [batch, 3, H, W]) };
  const plain = await ort.InferenceSession.create(onnx, opts);
  for (let i = 0; i < 3; i++) await plain.run(feeds);
  const xs: number[] = [];
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000 * 2 || xs.length < 10) {
    const t = performance.now();
    await plain.run(feeds);
    xs.push(performance.now() - t);
  }
  await plain.release();
  const s = await ort.InferenceSession.create(onnx, { ...opts, enableProfiling: true, profileFilePrefix: join(dir, 'ort') });
  const runs = 10;
  for (let i = 0; i < runs + 3; i++) await s.run(feeds);
  s.endProfiling();
  await s.release();
  const file = (await import('node:fs')).readdirSync(dir).find((f) => f.startsWith('ort') && f.endsWith('.json'));
  if (!file || !existsSync(join(dir, file))) throw new Error('no ORT profile written');
  const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { cat: string; name: string; dur: number; args?: { op_name?: string } }[];
  const kernels = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
  // Skip the 3 warm-up runs: take the last runs * (kernels per run).
  const perRun = kernels.length / (runs + 3);
  const last = kernels.slice(kernels.length - runs * perRun);
  const byOp = new Map<string, number>();
  for (const e of last) byOp.set(e.args?.op_name ?? '?', (byOp.get(e.args?.op_name ?? '?') ?? 0) + e.dur / 1000 / runs);
  const sum = [...byOp.values()].reduce((a, b) => a + b, 0);
  console.log(`\nonnxruntime-node ${model} batch ${batch}: whole forward ${median(xs).toFixed(1)} ms (unprofiled); ${perRun} kernels per run; kernel time by op type (ms/forward):`);
  for (const [k, v] of [...byOp].sort((a, b) => b[1] - a[1])) console.log(`${k} | ${v.toFixed(1)} | ${((100 * v) / sum).toFixed(1)}%`);
  console.log(`sum ${sum.toFixed(1)} ms`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
