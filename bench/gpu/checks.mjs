// CUDA correctness checks, shared by test/cuda.test.ts (ava + tsx, lib/*.ts) and bench/gpu/run-checks.mjs
// (plain node on a GPU machine, dist/*.js). Plain JS so both can load it; types in checks.d.mts.
//  - per-op: the same graph on the CPU backend and on CUDA for float32 / TF32 / float16 / bfloat16, odd shapes
//    (N = 1, 197, 577; widths that are not multiples of 8); each CUDA program runs 3 times (eager, CUDA-graph
//    capture, replay) and every run is compared. Attention with a fused head dim runs its 16-bit dtypes under
//    each fused kernel (VITNODE_CUDA_ATTN = v1, v2) and compares v2 with v1 as well. The ops of timm's ViT
//    families (act codes, mul, glu, rms_norm, head_norm, slice_last, rope, attention's split forms) are listed last.
//  - parity: the fixtures in test/fixtures/parity and test/fixtures/eva (timm's outputs) through createModel on
//    cuda, every dtype;
//    digits: timm's top-1 on all 60 images for every dtype.
// Tolerances (test/fixtures/README.md): float32 1e-4 * max(1, max|want|); TF32 / f16 / bf16 2e-2 for model
// outputs. Per-op 16-bit tolerances are the model ones too (inputs are rounded to the dtype first).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const DTYPES = [
  { name: 'float32', dtype: 'float32', tf32: false, tol: 1e-4 },
  { name: 'tf32', dtype: 'float32', tf32: true, tol: 2e-2 },
  { name: 'float16', dtype: 'float16', tf32: false, tol: 2e-2 },
  { name: 'bfloat16', dtype: 'bfloat16', tf32: false, tol: 2e-2 },
];

/** max |got - want| / max(1, max |want|) */
export function relErr(got, want) {
  if (got.length !== want.length) return Infinity;
  let d = 0;
  let m = 0;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i] - want[i]);
    if (!(e <= d)) d = Number.isNaN(e) ? Infinity : Math.max(d, e);
    m = Math.max(m, Math.abs(want[i]));
  }
  return d / Math.max(1, m);
}

function randn(n, seed, scale = 1) {
  let s = seed >>> 0 || 1;
  const u = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (u() + u() + u() + u() - 2) * Math.sqrt(3) * scale;
  return out;
}

const numel = (s) => s.reduce((a, b) => a * b, 1);

/** The fused attention kernels (env VITNODE_CUDA_ATTN, read when a program is built). */
export const ATTN_KERNELS = ['v1', 'v2'];
const FUSED_HEAD_DIMS = new Set([32, 64, 96, 128]);
// v2 repeats v1's arithmetic step for step: expected 0 (or one rounding of the output), far below what a
// fragment-layout slip gives.
export const ATTN_V2_VS_V1_TOL = 4e-3;

// Sets env vars, returns a function that restores them.
function setEnv(vars) {
  const prev = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  return () => {
    for (const [k, v] of Object.entries(prev)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}

/**
 * fn() with the env vars set (e.g. { VITNODE_CUDA_ATTN: 'v2' }, read when a program is built), the previous
 * values restored after. Only for code that runs alone (a concurrent test would build under these settings too).
 */
export async function withEnv(vars, fn) {
  const restore = setEnv(vars);
  try {
    return await fn();
  } finally {
    restore();
  }
}

/** withEnv for VITNODE_CUDA_ATTN = kernel (null/undefined: left as it is). */
export function withAttnKernel(kernel, fn) {
  return withEnv(kernel ? { VITNODE_CUDA_ATTN: kernel } : {}, fn);
}

// Synchronous, for program construction: nothing else can build a program in between, so safe in ava too.
function buildWith(kernel, build) {
  const restore = setEnv(kernel ? { VITNODE_CUDA_ATTN: kernel } : {});
  try {
    return build();
  } finally {
    restore();
  }
}

// A tiny graph builder over explicit shapes.
class G {
  constructor() {
    this.shapes = [];
    this.inputs = [];
    this.outputs = [];
    this.nodes = [];
    this.weights = new Map();
    this.feeds = [];
    this.seed = 1;
  }
  input(shape, scale = 1) {
    const id = this.shapes.push(shape) - 1;
    this.inputs.push(id);
    this.feeds.push(randn(numel(shape), 1000 + id * 7919, scale));
    return id;
  }
  weight(key, shape, scale = 1, offset = 0) {
    const d = randn(numel(shape), this.seed++ * 104729, scale);
    if (offset) for (let i = 0; i < d.length; i++) d[i] += offset;
    this.weights.set(key, { shape, data: d });
    return key;
  }
  node(op, inputs, shape, weights = {}, attrs = {}) {
    const out = this.shapes.push(shape) - 1;
    this.nodes.push({ op, name: `${op}.${this.nodes.length}`, inputs, output: out, weights, attrs });
    return out;
  }
  output(id, name = 'y') {
    this.outputs.push([name, id]);
  }
  spec() {
    return { shapes: this.shapes, inputs: this.inputs, outputs: this.outputs, nodes: this.nodes };
  }
}

/** Per-op cases: { name, build: () => G, attnKernels?: true (fused attention: run under each kernel) }. */
export function opCases() {
  const cases = [];
  const add = (name, build, extra = {}) => cases.push({ name, build, ...extra });
  for (const n of [1, 197, 577]) {
    // Linear: K = 77 (odd), N = 45 (not a multiple of 8) and 96; bias / act / LayerScale gamma / residual.
    const lin = (tag, k, nout, { bias = true, act = 0, gamma = false, res = false }) =>
      add(`linear ${tag} [2,${n},${k}]x[${nout},${k}]^T`, () => {
        const g = new G();
        const x = g.input([2, n, k]);
        const w = { weight: g.weight('w', [nout, k], 1 / Math.sqrt(k)) };
        if (bias) w.bias = g.weight('b', [nout], 0.5);
        if (gamma) w.gamma = g.weight('g', [nout], 0.5, 0.2);
        const ins = [x];
        if (res) ins.push(g.input([2, n, nout]));
        g.output(g.node('linear', ins, [2, n, nout], w, { act }));
        return g;
      });
    lin('plain', 77, 45, { bias: false });
    lin('bias', 64, 96, {});
    lin('bias+gelu', 77, 45, { act: 1 });
    lin('bias+gelu', 64, 96, { act: 1 });
    lin('bias+gamma+residual', 77, 45, { gamma: true, res: true });
    lin('bias+residual', 64, 96, { res: true });
    lin('tanh+gamma+residual', 64, 96, { act: 2, gamma: true, res: true });
    lin('gelu+residual (odd)', 77, 45, { act: 1, res: true });
    // act 3 = act_layer 'gelu_tanh': cuBLASLt's GELU epilogue alone, or the separate pass after a residual/gamma.
    lin('bias+gelu_tanh (cuBLASLt epilogue)', 77, 45, { act: 3 });
    lin('bias+gelu_tanh (cuBLASLt epilogue)', 64, 96, { act: 3 });
    lin('gelu_tanh+gamma+residual', 77, 45, { act: 3, gamma: true, res: true });
    // LayerNorm: odd and vector-friendly widths.
    for (const d of [77, 192, 768, 1000, 1032]) {
      add(`layer_norm [2,${n},${d}]`, () => {
        const g = new G();
        const x = g.input([2, n, d], 2);
        g.output(g.node('layer_norm', [x], [2, n, d], { weight: g.weight('g', [d], 0.3, 1), bias: g.weight('b', [d], 0.3) }, { eps: 1e-6 }));
        return g;
      });
    }
    // Attention: fused head dims 32/64/96/128, unfused 80 and 7. At N = 197 also the
    // `queries` attribute (only the first q query rows: 1, 2 and all of them, explicitly).
    for (const [heads, hd] of [[2, 32], [3, 64], [2, 96], [2, 128], [2, 80], [3, 7]]) {
      const d = heads * hd;
      for (const q of n === 197 ? [undefined, 1, 2, n] : [undefined]) {
        const attrs = { heads, scale: hd ** -0.5 };
        if (q !== undefined) attrs.queries = q;
        add(`attention [2,${n},3*${d}] heads ${heads} (hd ${hd})${q !== undefined ? ` queries ${q}` : ''}`, () => {
          const g = new G();
          const x = g.input([2, n, 3 * d], 1);
          g.output(g.node('attention', [x], [2, q ?? n, d], {}, attrs));
          return g;
        }, { attnKernels: FUSED_HEAD_DIMS.has(hd) });
      }
    }
    add(`softmax [3,${n}]`, () => {
      const g = new G();
      const x = g.input([3, n], 3);
      g.output(g.node('softmax', [x], [3, n]));
      return g;
    });
    add(`gelu + tanh [2,${n},45]`, () => {
      const g = new G();
      const x = g.input([2, n, 45], 2);
      const a = g.node('gelu', [x], [2, n, 45]);
      g.output(a, 'gelu');
      g.output(g.node('tanh', [x], [2, n, 45]), 'tanh');
      return g;
    });
    add(`add broadcast alpha/beta [3,${n},45] + [1,${n},45]`, () => {
      const g = new G();
      const a = g.input([3, n, 45]);
      const b = g.input([1, n, 45]);
      g.output(g.node('add', [a, b], [3, n, 45], {}, { alpha: 0.5, beta: -2 }), 'bcast');
      const c = g.input([3, n, 45]);
      g.output(g.node('add', [a, c], [3, n, 45]), 'plain');
      return g;
    });
    for (const mode of [0, 1, 2, 3]) {
      add(`pool mode ${mode} [2,${n + 1},45]`, () => {
        const g = new G();
        const x = g.input([2, n + 1, 45]);
        g.output(g.node('pool', [x], [2, 45], {}, { mode, start: 1, index: 0 }));
        return g;
      });
    }
    add(`concat_prefix (weights) + slice_tokens [2,${n},45]`, () => {
      const g = new G();
      const x = g.input([2, n, 45]);
      const cls = g.node('weight', [], [1, 1, 45], { weight: g.weight('cls', [1, 1, 45]) });
      const reg = g.node('weight', [], [1, 3, 45], { weight: g.weight('reg', [1, 3, 45]) });
      const c = g.node('concat_prefix', [x, cls, reg], [2, n + 4, 45]);
      g.output(c, 'concat');
      g.output(g.node('slice_tokens', [c], [2, 2, 45], {}, { start: 1, count: 2 }), 'slice');
      return g;
    });
  }
  // Attention with enough (batch, head) pairs that v2 gives each one a single block whose warps take several
  // rounds of 16-row query groups (the small cases above split the queries over more blocks instead).
  for (const [bsz, heads, hd, q] of [[256, 2, 64, 197], [256, 2, 64, 150], [128, 2, 128, 197]]) {
    const d = heads * hd;
    add(`attention [${bsz},197,3*${d}] heads ${heads} (hd ${hd}) queries ${q}`, () => {
      const g = new G();
      const x = g.input([bsz, 197, 3 * d], 1);
      g.output(g.node('attention', [x], [bsz, q, d], {}, { heads, scale: hd ** -0.5, queries: q }));
      return g;
    }, { attnKernels: true });
  }
  add('tokens_to_nchw [2,35,45] -> [2,45,5,7]', () => {
    const g = new G();
    const x = g.input([2, 35, 45]);
    g.output(g.node('tokens_to_nchw', [x], [2, 45, 5, 7], {}, { h: 5, w: 7 }));
    return g;
  });
  for (const [h, w, p, d, pad] of [[32, 32, 16, 77, 0], [37, 45, 8, 50, 1], [224, 224, 16, 96, 0]]) {
    add(`patch_embed [2,3,${h},${w}] p${p} -> D ${d}`, () => {
      const g = new G();
      const x = g.input([2, 3, h, w]);
      const gh = Math.ceil(h / p), gw = Math.ceil(w / p);
      g.output(g.node('patch_embed', [x], [2, gh * gw, d], { weight: g.weight('w', [d, 3, p, p], 0.05), bias: g.weight('b', [d], 0.5) }, { patch: p, pad }));
      return g;
    });
  }
  for (const mode of [0, 1, 2]) {
    for (const [oh, ow, h, w] of [[7, 7, 12, 10], [14, 14, 4, 5], [6, 9, 6, 9]]) {
      add(`pos_resample mode ${mode} ${oh}x${ow} -> ${h}x${w}`, () => {
        const g = new G();
        const x = g.input([1, 1 + oh * ow, 24]);
        g.output(g.node('pos_resample', [x], [1, 1 + h * w, 24], {}, { prefix: 1, old_h: oh, old_w: ow, h, w, mode }));
        return g;
      });
    }
  }
  // Hybrid-backbone ops (NCHW, odd sizes): conv2d (im2col and direct 1x1 paths, asymmetric 'same' padding,
  // stride, dilation, weight standardisation, folded BatchNorm, residual + ReLU), group_norm, relu, pooling.
  const conv = (tag, x, o, k, attrs, { bias = false, bn = false, res = false } = {}) =>
    add(`conv2d ${tag} [${x}] -> ${o} k${k}`, () => {
      const g = new G();
      const [b, c, h, w] = x;
      const { stride: s = 1, dilation: d = 1, pad_t: pt = 0, pad_l: pl = 0, pad_b: pb = 0, pad_r: pr = 0 } = attrs;
      const oh = Math.floor((h + pt + pb - d * (k - 1) - 1) / s) + 1;
      const ow = Math.floor((w + pl + pr - d * (k - 1) - 1) / s) + 1;
      const xi = g.input(x);
      const wt = { weight: g.weight('w', [o, c, k, k], 1 / Math.sqrt(c * k * k)) };
      if (bias) wt.bias = g.weight('b', [o], 0.5);
      if (bn) Object.assign(wt, { bn_weight: g.weight('bnw', [o], 0.2, 1), bn_bias: g.weight('bnb', [o], 0.3), bn_mean: g.weight('bnm', [o], 0.2), bn_var: g.weight('bnv', [o], 0.1, 1) });
      const ins = [xi];
      if (res) ins.push(g.input([b, o, oh, ow]));
      g.output(g.node('conv2d', ins, [b, o, oh, ow], wt, { stride: s, dilation: d, pad_t: pt, pad_l: pl, pad_b: pb, pad_r: pr, ...attrs }));
      return g;
    });
  conv('3x3 s1 p1 + bias', [2, 5, 9, 11], 7, 3, { pad_t: 1, pad_l: 1, pad_b: 1, pad_r: 1 }, { bias: true });
  conv('7x7 s2 same-asym ws2 + bn + relu', [2, 3, 19, 17], 8, 7, { stride: 2, pad_t: 2, pad_l: 3, pad_b: 3, pad_r: 2, ws: 2, ws_eps: 1e-8, act: 1 }, { bn: true });
  conv('1x1 direct + residual + relu', [2, 6, 7, 5], 10, 1, { act: 1 }, { res: true });
  conv('1x1 s2 ws1 + bias', [2, 6, 9, 9], 4, 1, { stride: 2, ws: 1, ws_eps: 1e-5 }, { bias: true });
  conv('3x3 dilation 2 p2 + residual', [1, 4, 10, 10], 6, 3, { dilation: 2, pad_t: 2, pad_l: 2, pad_b: 2, pad_r: 2 }, { res: true });
  // Batched conv GEMMs (backbone.cu): timm 'same' padding (before = total / 2, rest after) with residual + ReLU
  // for 1x1 / 3x3 / 7x7-stride-2, several items per GEMM; then batches larger than one im2col chunk (128 MB
  // of columns: 3x3 on 64x56x56 holds 18 float32 / 37 16-bit items, 7x7/2 on 3x224x224 18 / 36), so the
  // chunk loop and the second GEMM plan of an unequal last chunk (3x3 16-bit: 23 + 22 items; 7x7 float32:
  // 14 + 14 + 12) run.
  const same = (h, w, k, s) => {
    const tot = (i) => Math.max((Math.ceil(i / s) - 1) * s + k - i, 0);
    const [th, tw] = [tot(h), tot(w)];
    return { stride: s, pad_t: th >> 1, pad_b: th - (th >> 1), pad_l: tw >> 1, pad_r: tw - (tw >> 1), act: 1 };
  };
  conv('1x1 same batched + bias + residual + relu', [6, 40, 13, 11], 24, 1, same(13, 11, 1, 1), { bias: true, res: true });
  conv('3x3 same batched + residual + relu', [5, 12, 15, 13], 20, 3, same(15, 13, 3, 1), { res: true });
  conv('7x7 s2 same batched ws1 + bn + residual + relu', [3, 3, 34, 31], 16, 7, { ...same(34, 31, 7, 2), ws: 1, ws_eps: 1e-6 }, { bn: true, res: true });
  conv('3x3 same > 1 im2col chunk + residual + relu', [45, 64, 56, 56], 8, 3, same(56, 56, 3, 1), { res: true });
  conv('7x7 s2 same > 1 im2col chunk + bn + residual + relu', [40, 3, 224, 224], 16, 7, same(224, 224, 7, 2), { bn: true, res: true });
  for (const [x, groups, act, res] of [[[2, 12, 5, 7], 3, 1, true], [[3, 8, 6, 6], 4, 0, false]]) {
    add(`group_norm [${x}] groups ${groups} act ${act} residual ${res}`, () => {
      const g = new G();
      const xi = g.input(x, 2);
      const ins = res ? [xi, g.input(x)] : [xi];
      g.output(g.node('group_norm', ins, x, { weight: g.weight('g', [x[1]], 0.3, 1), bias: g.weight('b', [x[1]], 0.3) }, { groups, eps: 1e-5, act }));
      return g;
    });
  }
  add('relu [2,5,4,3]', () => {
    const g = new G();
    g.output(g.node('relu', [g.input([2, 5, 4, 3])], [2, 5, 4, 3]));
    return g;
  });
  for (const [kind, x, y, attrs] of [
    ['max_pool2d', [2, 5, 9, 10], [2, 5, 4, 5], { kernel: 3, stride: 2, pad_t: 0, pad_l: 0, pad_b: 1, pad_r: 1 }],
    ['max_pool2d', [1, 3, 6, 6], [1, 3, 3, 3], { kernel: 3, stride: 2, pad_t: 1, pad_l: 1, pad_b: 1, pad_r: 1 }],
    ['avg_pool2d', [2, 5, 9, 7], [2, 5, 5, 4], { kernel: 2, stride: 2, ceil_mode: 1 }],
    ['avg_pool2d', [1, 3, 5, 5], [1, 3, 5, 5], { kernel: 3, stride: 1, pad_t: 1, pad_l: 1, pad_b: 1, pad_r: 1 }],
  ]) {
    add(`${kind} [${x}] -> [${y}] ${JSON.stringify(attrs)}`, () => {
      const g = new G();
      g.output(g.node(kind, [g.input(x)], y, {}, attrs));
      return g;
    });
  }
  // The ops of timm's ViT families (CLIP, SigLIP, AIMv2, DINOv2 SwiGLU, qk_norm, ParallelScalingBlock, prr
  // pooling): every act code alone and in linear's epilogue pass, mul, glu, rms_norm (vector and generic widths),
  // head_norm, slice_last, and attention's split forms [q, kv] / [q, k, v] (unfused path; fused head dims too).
  for (const n of [1, 197, 577]) {
    const ew = (name, build) => add(`${name} [2,${n},45]`, build);
    ew('act 0..7', () => {
      const g = new G();
      const x = g.input([2, n, 45], 3);
      for (let act = 0; act <= 7; act++) g.output(g.node('act', [x], [2, n, 45], {}, { act }), `act${act}`);
      return g;
    });
    ew('mul', () => {
      const g = new G();
      g.output(g.node('mul', [g.input([2, n, 45], 2), g.input([2, n, 45], 2)], [2, n, 45]));
      return g;
    });
    for (const [act, gateFirst] of [[5, 1], [5, 0], [1, 0], [4, 1], [7, 0]]) {
      add(`glu act ${act} gate_first ${gateFirst} [2,${n},90] -> 45`, () => {
        const g = new G();
        g.output(g.node('glu', [g.input([2, n, 90], 2)], [2, n, 45], {}, { act, gate_first: gateFirst }));
        return g;
      });
    }
    for (const d of [77, 768, 1032]) {
      add(`rms_norm [2,${n},${d}]`, () => {
        const g = new G();
        const x = g.input([2, n, d], 2);
        g.output(g.node('rms_norm', [x], [2, n, d], { weight: g.weight('g', [d], 0.3, 1) }, { eps: 1e-6 }));
        return g;
      });
    }
    for (const [heads, hd, kind, bias] of [[3, 64, 0, true], [2, 64, 1, false], [3, 7, 0, false], [2, 80, 1, false]]) {
      const d = heads * hd;
      add(`head_norm [2,${n},3*${d}] heads ${heads} kind ${kind} bias ${bias}`, () => {
        const g = new G();
        const w = { q_weight: g.weight('qw', [hd], 0.3, 1), k_weight: g.weight('kw', [hd], 0.3, 1) };
        if (bias) Object.assign(w, { q_bias: g.weight('qb', [hd], 0.3), k_bias: g.weight('kb', [hd], 0.3) });
        g.output(g.node('head_norm', [g.input([2, n, 3 * d], 2)], [2, n, 3 * d], w, { heads, eps: 1e-6, kind }));
        return g;
      });
    }
    // eva.py RoPE: packed qkv (q, k rotated) and lone q, shared / per-head tables, both pair layouts, prefix skipped
    for (const [heads, hd, sections, ht, half, start] of [[3, 64, 2, 1, 0, 1], [2, 16, 1, 2, 1, 5], [6, 64, 2, 6, 0, 0], [3, 32, 2, 1, 1, 5]]) {
      const st = Math.min(start, n - 1);
      const d = heads * hd;
      const w = sections === 2 ? 3 * d : d;
      add(`rope [2,${n},${w}] heads ${heads} hd ${hd} sections ${sections} Ht ${ht} half ${half} start ${st}`, () => {
        const g = new G();
        const table = g.weight('tab', [ht, n - st, 2 * hd]);
        g.output(g.node('rope', [g.input([2, n, w], 2)], [2, n, w], { table }, { heads, sections, start: st, half }));
        return g;
      });
    }
    add(`slice_last [2,${n},45] -> [7, 27)`, () => {
      const g = new G();
      g.output(g.node('slice_last', [g.input([2, n, 45])], [2, n, 20], {}, { start: 7, count: 20 }));
      return g;
    });
    for (const [heads, hd] of [[2, 64], [3, 7]]) {
      const d = heads * hd;
      const attrs = { heads, scale: hd ** -0.5 };
      for (const [bq, q] of [[1, 1], [1, 4], [2, 3]]) {
        add(`attention [q ${bq},${q},${d}] [kv 2,${n},2*${d}] heads ${heads}`, () => {
          const g = new G();
          g.output(g.node('attention', [g.input([bq, q, d]), g.input([2, n, 2 * d])], [2, q, d], {}, attrs));
          return g;
        });
      }
      add(`attention q = k = v [2,${n},${d}] heads ${heads}`, () => {
        const g = new G();
        const x = g.input([2, n, d]);
        g.output(g.node('attention', [x, x, x], [2, n, d], {}, attrs));
        return g;
      });
      add(`attention [q 1,5,${d}] [k, v 2,${n},${d}] heads ${heads}`, () => {
        const g = new G();
        g.output(g.node('attention', [g.input([1, 5, d]), g.input([2, n, d]), g.input([2, n, d])], [2, 5, d], {}, attrs));
        return g;
      });
    }
  }
  for (const act of [4, 5, 6, 7]) {
    for (const [k, nout, extra] of [[77, 45, {}], [64, 96, { gamma: true, res: true }]]) {
      add(`linear act ${act} [2,197,${k}]x[${nout},${k}]^T ${JSON.stringify(extra)}`, () => {
        const g = new G();
        const w = { weight: g.weight('w', [nout, k], 1 / Math.sqrt(k)), bias: g.weight('b', [nout], 0.5) };
        if (extra.gamma) w.gamma = g.weight('g', [nout], 0.5, 0.2);
        const ins = [g.input([2, 197, k], 2)];
        if (extra.res) ins.push(g.input([2, 197, nout]));
        g.output(g.node('linear', ins, [2, 197, nout], w, { act }));
        return g;
      });
    }
  }
  return cases;
}

/**
 * Runs one per-op case on CPU and on CUDA in every dtype. Returns [{ dtype, kernel?, err, tol, ok }]; cases with
 * attnKernels give one row per fused kernel for float16 / bfloat16 (kernel 'v1', 'v2') plus 'v2 vs v1'.
 */
export async function runOpCase(binding, c, dtypes = DTYPES) {
  const g = c.build();
  const store = new binding.WeightStore();
  try {
    for (const [k, w] of g.weights) store.set(k, w.shape, w.data);
    const cpu = new binding.Program(g.spec(), store, { device: 'cpu' });
    const want = await cpu.run(g.feeds, 2);
    cpu.dispose();
    const results = [];
    for (const dt of dtypes) {
      const kernels = c.attnKernels && dt.dtype !== 'float32' ? ATTN_KERNELS : [null];
      let first = null;
      for (const kernel of kernels) {
        const prog = buildWith(kernel, () => new binding.Program(g.spec(), store, { device: 'cuda', index: 0, dtype: dt.dtype, tf32: dt.tf32 }));
        let got;
        try {
          let err = 0;
          for (let r = 0; r < 3; r++) {
            got = await prog.run(g.feeds, 1);
            for (let i = 0; i < want.length; i++) err = Math.max(err, relErr(got[i].data, want[i].data));
          }
          results.push({ dtype: dt.name, ...(kernel && { kernel }), err, tol: dt.tol, ok: err <= dt.tol });
        } finally {
          prog.dispose();
        }
        if (!first) {
          first = got;
          continue;
        }
        let err = 0;
        for (let i = 0; i < first.length; i++) err = Math.max(err, relErr(got[i].data, first[i].data));
        results.push({ dtype: dt.name, kernel: `${kernel} vs ${kernels[0]}`, err, tol: ATTN_V2_VS_V1_TOL, ok: err <= ATTN_V2_VS_V1_TOL });
      }
    }
    return results;
  } finally {
    store.dispose();
  }
}

function readSt(readSafetensors, path) {
  return readSafetensors(path);
}

/** Parity cases on cuda: [{ name, run: async (dtype) => [{ output, err }] }]. */
export function parityCases(api, fixtures) {
  const { createModel, Tensor, readSafetensors } = api;
  const out = [];
  for (const era of ['modern', 'seed', 'eva']) {
    const dir = era === 'eva' ? join(fixtures, 'eva') : join(fixtures, 'parity', era);
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    for (const c of manifest) {
      if (!c.weights.endsWith('.safetensors')) continue;
      out.push({
        name: `${era}/${c.name}`,
        run: async (dt) => {
          const io = readSt(readSafetensors, join(dir, c.io));
          const m = await createModel(c.config, { checkpoint: join(dir, c.weights), device: 'cuda', dtype: dt.dtype, tf32: dt.tf32 });
          try {
            const xi = io.get('input');
            const x = new Tensor(xi.data, xi.shape);
            const res = [];
            const legacy = c.config.architecture.startsWith('legacy:');
            if (c.outputs.includes('logits')) {
              for (let r = 0; r < 3; r++) res.push({ output: `logits (run ${r + 1})`, err: relErr((await m.forward(x)).data, io.get('logits').data) });
            }
            if (c.outputs.includes('features') && !legacy) res.push({ output: 'features', err: relErr((await m.forwardFeatures(x)).data, io.get('features').data) });
            if (c.outputs.includes('pre_logits') && legacy) res.push({ output: 'pre_logits', err: relErr((await m.forwardFeatures(x)).data, io.get('pre_logits').data) });
            return res;
          } finally {
            m.dispose();
          }
        },
      });
    }
  }
  return out;
}

function argmax(a, off, n) {
  let best = off;
  for (let i = off; i < off + n; i++) if (a[i] > a[best]) best = i;
  return best - off;
}

/** Digits: timm's top-1 on every image, and the logits error. */
export async function digitsCheck(api, fixtures, dt) {
  const { createModel, Tensor, readSafetensors } = api;
  const dir = join(fixtures, 'digits');
  const io = readSafetensors(join(dir, 'input.safetensors'));
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const m = await createModel(cfg, { checkpoint: join(dir, 'model.safetensors'), device: 'cuda', dtype: dt.dtype, tf32: dt.tf32 });
  try {
    const xi = io.get('input');
    const want = io.get('logits');
    const y = await m.forward(new Tensor(xi.data, xi.shape));
    const k = want.shape[1];
    let same = 0;
    for (let b = 0; b < want.shape[0]; b++) if (argmax(y.data, b * k, k) === argmax(want.data, b * k, k)) same++;
    return { images: want.shape[0], sameTop1: same, err: relErr(y.data, want.data) };
  } finally {
    m.dispose();
  }
}
