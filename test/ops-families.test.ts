// The ops timm's ViT families add (CLIP QuickGELU, SigLIP map pooling, AIMv2 RmsNorm + SwiGLU, DINOv2 SwiGLUPacked,
// qk_norm, ParallelScalingBlock, prr pooling): act codes in linear and the act op, mul, glu, rms_norm, head_norm,
// slice_last and attention's split forms, each on odd shapes against float64 references (test/op-refs.ts).
import test from 'ava';
import { binding, type NativeWeightStore } from '../lib/binding.ts';
import { GraphBuilder, type OpWeights, type Sym } from '../lib/graph/builder.ts';
import { errorCode, near, opStore as store, randn, relErr, runOp as run } from './helpers.ts';
import { ACTS, attentionRef, heads as at, layerNormRef, normRow } from './op-refs.ts';

const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);
const ACT_CODES = [0, 1, 2, 3, 4, 5, 6, 7];

/** Error code and message of building a one-output graph on CPU. */
function refusal(s: NativeWeightStore, build: (g: GraphBuilder) => Sym): { code?: string; message: string } {
  const g = new GraphBuilder();
  g.output('y', build(g));
  try {
    new binding.Program(g.spec(), s, { device: 'cpu' }).dispose();
  } catch (e) {
    return { code: (e as { code?: string }).code, message: (e as Error).message };
  }
  return { message: 'no error' };
}

// ---- activations --------------------------------------------------------------------------------------------

test('act: every code elementwise (odd length, large magnitudes, AVX2 tails)', (t) => {
  const shape = [3, 7, 9];
  const x = randn(numel(shape), 21, 3);
  x[5] = 60;
  x[6] = -60;
  const s = store();
  for (const act of ACT_CODES) {
    const y = run(s, (g) => g.op('act', 'a', [g.input(shape)], shape, { attrs: { act } }), [x]);
    near(t, y, shape, Array.from(x, ACTS[act]), `act ${act}`);
    t.true(y.data.every(Number.isFinite), `act ${act} finite`);
  }
  s.dispose();
});

test('linear: quick_gelu / silu / relu / sigmoid with bias / gamma / residual, 1 and 3 threads', (t) => {
  const [K, N] = [37, 11];
  const w = randn(N * K, 10, 0.3);
  const b = randn(N, 11);
  const gamma = randn(N, 12);
  const s = store({ 'l.weight': [[N, K], w], 'l.bias': [[N], b], 'l.gamma': [[N], gamma] });
  for (const shape of [[2, 3, K], [5, K]]) {
    const x = randn(numel(shape), 13 + shape.length, 2);
    const outShape = [...shape.slice(0, -1), N];
    const res = randn(numel(outShape), 14);
    for (const act of [4, 5, 6, 7])
      for (const [bias, withGamma, withRes] of [[true, false, false], [false, false, false], [true, true, true]])
        for (const threads of [1, 3]) {
          const weights: OpWeights['linear'] = { weight: 'l.weight' };
          if (bias) weights.bias = 'l.bias';
          if (withGamma) weights.gamma = 'l.gamma';
          const y = run(s, (g) => {
            const xi = g.input(shape);
            return g.op('linear', 'l', withRes ? [xi, g.input(outShape)] : [xi], outShape, { weights, attrs: { act } });
          }, withRes ? [x, res] : [x], threads);
          const want: number[] = [];
          for (let r = 0; r < x.length / K; r++)
            for (let c = 0; c < N; c++) {
              let v = bias ? b[c] : 0;
              for (let i = 0; i < K; i++) v += x[r * K + i] * w[c * K + i];
              v = ACTS[act](v) * (withGamma ? gamma[c] : 1) + (withRes ? res[r * N + c] : 0);
              want.push(v);
            }
          near(t, y, outShape, want, `linear ${shape} act ${act} bias ${bias} gamma ${withGamma} res ${withRes} threads ${threads}`);
        }
  }
  s.dispose();
});

// ---- mul, glu -----------------------------------------------------------------------------------------------

test('mul: a * b, same shapes', (t) => {
  const shape = [2, 5, 13];
  const a = randn(numel(shape), 30);
  const b = randn(numel(shape), 31);
  const s = store();
  const y = run(s, (g) => g.op('mul', 'm', [g.input(shape), g.input(shape)], shape), [a, b]);
  near(t, y, shape, Array.from(a, (v, i) => v * b[i]), 'mul', 1e-6);
  s.dispose();
});

test('glu: gate first (SwiGLUPacked) and gate last (GluMlp), every act, odd widths', (t) => {
  const s = store();
  for (const [rows, H] of [[7, 13], [3, 24], [1, 1]]) {
    const x = randn(rows * 2 * H, 40 + H, 2);
    for (const act of ACT_CODES)
      for (const gateFirst of [1, 0]) {
        const y = run(s, (g) => g.op('glu', 'glu', [g.input([rows, 2 * H])], [rows, H], { attrs: { act, gate_first: gateFirst } }), [x]);
        const want: number[] = [];
        for (let r = 0; r < rows; r++)
          for (let j = 0; j < H; j++) {
            const a = x[r * 2 * H + j];
            const b = x[r * 2 * H + H + j];
            want.push(gateFirst ? ACTS[act](a) * b : a * ACTS[act](b));
          }
        near(t, y, [rows, H], want, `glu [${rows},${2 * H}] act ${act} gate_first ${gateFirst}`);
      }
  }
  // 3-D input, default gate_first (0: timm GluMlp's gate last)
  const x = randn(2 * 3 * 10, 49);
  const y = run(s, (g) => g.op('glu', 'glu', [g.input([2, 3, 10])], [2, 3, 5], { attrs: { act: 7 } }), [x]);
  const want: number[] = [];
  for (let r = 0; r < 6; r++) for (let j = 0; j < 5; j++) want.push(x[r * 10 + j] * ACTS[7](x[r * 10 + 5 + j]));
  near(t, y, [2, 3, 5], want, 'glu default gate_first');
  s.dispose();
});

// ---- rms_norm, head_norm ------------------------------------------------------------------------------------

test('rms_norm: odd shapes, eps matters, no mean subtracted', (t) => {
  for (const [shape, eps, scale] of [[[2, 5, 7], 1e-6, 1], [[3, 33], 1e-5, 1], [[1, 3, 40], 1e-2, 0.05]] as [number[], number, number][]) {
    const d = shape.at(-1)!;
    const x = randn(numel(shape), 1 + d, scale);
    for (let i = 0; i < x.length; i++) x[i] += 0.5 * scale; // a mean that LayerNorm would remove
    const w = randn(d, 2 + d);
    const s = store({ 'n.weight': [[d], w] });
    const y = run(s, (g) => g.op('rms_norm', 'n', [g.input(shape)], shape, { weights: { weight: 'n.weight' }, attrs: { eps } }), [x]);
    near(t, y, shape, layerNormRef(x, d, w, null, eps, true), `rms_norm ${shape} eps ${eps}`);
    t.true(relErr(y.data, layerNormRef(x, d, w, null, eps)) > 1e-2, 'differs from LayerNorm');
    if (eps === 1e-2) t.true(relErr(y.data, layerNormRef(x, d, w, null, 1e-6, true)) > 1e-2, 'eps is used');
    s.dispose();
  }
});

test('head_norm: q and k per head (LayerNorm with / without bias, RmsNorm), v copied', (t) => {
  for (const [B, T, H, hd] of [[2, 5, 3, 4], [1, 7, 2, 5], [2, 3, 1, 17]]) {
    const D = H * hd;
    const x = randn(B * T * 3 * D, 50 + hd, 1.5);
    const wts = { qw: randn(hd, 51), qb: randn(hd, 52), kw: randn(hd, 53), kb: randn(hd, 54) };
    const s = store({ qw: [[hd], wts.qw], qb: [[hd], wts.qb], kw: [[hd], wts.kw], kb: [[hd], wts.kb] });
    for (const [kind, bias] of [[0, true], [0, false], [1, false]] as [number, boolean][]) {
      const weights: OpWeights['head_norm'] = { q_weight: 'qw', k_weight: 'kw' };
      if (bias) Object.assign(weights, { q_bias: 'qb', k_bias: 'kb' });
      const shape = [B, T, 3 * D];
      const y = run(s, (g) => g.op('head_norm', 'qk', [g.input(shape)], shape, { weights, attrs: { heads: H, eps: 1e-6, kind } }), [x]);
      const want: number[] = [];
      for (let r = 0; r < B * T; r++) {
        for (const [sec, w, b] of [[0, wts.qw, wts.qb], [1, wts.kw, wts.kb]] as [number, Float32Array, Float32Array][])
          for (let h = 0; h < H; h++) want.push(...normRow(x, r * 3 * D + sec * D + h * hd, hd, w, bias ? b : null, 1e-6, kind === 1));
        want.push(...x.slice(r * 3 * D + 2 * D, (r + 1) * 3 * D));
      }
      near(t, y, shape, want, `head_norm [${shape}] heads ${H} kind ${kind} bias ${bias}`);
    }
    s.dispose();
  }
});

// ---- slice_last ---------------------------------------------------------------------------------------------

test('slice_last: columns [start, start + count) of the last dim', (t) => {
  const s = store();
  for (const [shape, start, count] of [[[2, 5, 11], 3, 4], [[7, 11], 0, 11], [[2, 3, 11], 10, 1], [[1, 1, 9], 0, 2]] as [number[], number, number][]) {
    const c = shape.at(-1)!;
    const x = randn(numel(shape), 60 + start);
    const out = [...shape.slice(0, -1), count];
    const y = run(s, (g) => g.op('slice_last', 'sl', [g.input(shape)], out, { attrs: { start, count } }), [x]);
    const want: number[] = [];
    for (let r = 0; r < x.length / c; r++) want.push(...x.slice(r * c + start, r * c + start + count));
    near(t, y, out, want, `slice_last [${shape}] start ${start} count ${count}`, 0);
  }
  s.dispose();
});

// ---- attention: split forms ---------------------------------------------------------------------------------

test('attention [q, kv]: one latent query shared by the batch (AttentionPoolLatent) or per item; heads 1 and 3', (t) => {
  const s = store();
  for (const [Bq, B, Q, T, H, hd] of [[1, 3, 1, 5, 3, 4], [1, 2, 4, 197, 3, 4], [2, 2, 3, 7, 1, 5], [1, 1, 2, 1, 2, 3]]) {
    const D = H * hd;
    const q = randn(Bq * Q * D, 70 + T, 1.5);
    const kv = randn(B * T * 2 * D, 71 + T, 1.5);
    const want = attentionRef(at(q, Bq, Q, D, 0, hd), at(kv, B, T, 2 * D, 0, hd), at(kv, B, T, 2 * D, D, hd), B, Q, T, D, H, 0.4);
    for (const threads of [1, 2, 3]) {
      const y = run(s, (g) => g.op('attention', 'pool', [g.input([Bq, Q, D]), g.input([B, T, 2 * D])], [B, Q, D], { attrs: { heads: H, scale: 0.4 } }), [q, kv], threads);
      near(t, y, [B, Q, D], want, `attention q[${Bq},${Q},${D}] kv[${B},${T},${2 * D}] heads ${H} threads ${threads}`);
    }
  }
  s.dispose();
});

test('attention [q, k, v]: q = k = v (AttentionPoolPrr), separate tensors, broadcast q, Q > T', (t) => {
  const s = store();
  // q = k = v: the same tensor three times
  for (const [B, T, H, hd] of [[2, 6, 3, 4], [1, 197, 2, 6]]) {
    const D = H * hd;
    const x = randn(B * T * D, 80 + T, 1.5);
    const a = at(x, B, T, D, 0, hd);
    const want = attentionRef(a, a, a, B, T, T, D, H, hd ** -0.5);
    for (const threads of [1, 2]) {
      const y = run(s, (g) => {
        const xi = g.input([B, T, D]);
        return g.op('attention', 'prr', [xi, xi, xi], [B, T, D], { attrs: { heads: H, scale: hd ** -0.5 } });
      }, [x], threads);
      near(t, y, [B, T, D], want, `attention q = k = v [${B},${T},${D}] heads ${H} threads ${threads}`);
    }
  }
  // separate q, k, v; q shared (Bq 1) or per item; more queries than keys
  for (const [Bq, B, Q, T, H, hd] of [[1, 3, 2, 5, 2, 3], [3, 3, 9, 4, 3, 2], [2, 2, 1, 11, 1, 7]]) {
    const D = H * hd;
    const q = randn(Bq * Q * D, 90 + Q, 1.5);
    const k = randn(B * T * D, 91 + T, 1.5);
    const v = randn(B * T * D, 92 + T, 1.5);
    const want = attentionRef(at(q, Bq, Q, D, 0, hd), at(k, B, T, D, 0, hd), at(v, B, T, D, 0, hd), B, Q, T, D, H, 0.7);
    const y = run(s, (g) => g.op('attention', 'a', [g.input([Bq, Q, D]), g.input([B, T, D]), g.input([B, T, D])], [B, Q, D], { attrs: { heads: H, scale: 0.7 } }), [q, k, v], 3);
    near(t, y, [B, Q, D], want, `attention q[${Bq},${Q},${D}] k, v[${B},${T},${D}] heads ${H}`);
  }
  s.dispose();
});

// ---- the new ops inside row-parallel regions ----------------------------------------------------------------

test('row-parallel regions: qk_norm + SwiGLU + parallel-scaling split + latent pooling agree at 1, 2, 3 and 5 threads', (t) => {
  const [B, T, D, H, Hm] = [2, 9, 12, 3, 10];
  const hd = D / H;
  const ws: Record<string, [number[], Float32Array]> = {};
  let seed = 100;
  const param = (name: string, shape: number[], scale = 0.3) => (ws[name] = [shape, randn(numel(shape), seed++, scale)]);
  param('in.weight', [2 * Hm + 3 * D, D]);
  param('n.weight', [D]);
  param('qw', [hd]);
  param('kw', [hd]);
  param('g.weight', [Hm, D]);
  param('x.weight', [Hm, D]);
  param('fc2.weight', [2 * Hm, D]);
  param('out.weight', [D, Hm]);
  param('kv.weight', [2 * D, D]);
  param('latent', [1, 2, D]);
  const s = store(ws);
  const x = randn(B * T * D, 120);
  const lin = (g: GraphBuilder, name: string, x: Sym, n: number) => g.op('linear', name, [x], [B, T, n], { weights: { weight: `${name}.weight` } });
  const build = (g: GraphBuilder) => {
    const h = g.input([B, T, D]);
    const n = g.op('rms_norm', 'norm', [h], [B, T, D], { weights: { weight: 'n.weight' }, attrs: { eps: 1e-6 } });
    // ParallelScalingBlock: one in_proj, split into [mlp | q | k | v] columns
    const proj = lin(g, 'in', n, 2 * Hm + 3 * D);
    const mlp = g.op('slice_last', 'mlp_in', [proj], [B, T, 2 * Hm], { attrs: { start: 0, count: 2 * Hm } });
    const qkv = g.op('slice_last', 'qkv', [proj], [B, T, 3 * D], { attrs: { start: 2 * Hm, count: 3 * D } });
    const qkn = g.op('head_norm', 'qk_norm', [qkv], [B, T, 3 * D], { weights: { q_weight: 'qw', k_weight: 'kw' }, attrs: { heads: H, eps: 1e-6, kind: 1 } });
    const att = g.op('attention', 'attn', [qkn], [B, T, D], { attrs: { heads: H, scale: hd ** -0.5 } });
    const packed = g.op('glu', 'swiglu_packed', [mlp], [B, T, Hm], { attrs: { act: 5, gate_first: 1 } });
    // SwiGLU with separate fc1_g / fc1_x: act(fc1_g(x)) * fc1_x(x)
    const gate = g.op('act', 'act', [lin(g, 'g', n, Hm)], [B, T, Hm], { attrs: { act: 5 } });
    const swi = g.op('mul', 'mul', [gate, lin(g, 'x', n, Hm)], [B, T, Hm]);
    const glu = g.op('glu', 'glu', [lin(g, 'fc2', att, 2 * Hm)], [B, T, Hm], { attrs: { act: 7 } });
    const m = g.op('add', 'sum', [g.op('add', 'sum0', [packed, swi], [B, T, Hm]), glu], [B, T, Hm]);
    // latent pooling over the mixed tokens
    const kv = lin(g, 'kv', lin(g, 'out', m, D), 2 * D);
    return g.op('attention', 'pool', [g.weight('latent', [1, 2, D]), kv], [B, 2, D], { attrs: { heads: H, scale: hd ** -0.5 } });
  };
  const ref = run(s, build, [x], 1);
  t.true(ref.data.every(Number.isFinite));
  for (const threads of [2, 3, 5]) near(t, run(s, build, [x], threads), [B, 2, D], ref.data, `${threads} threads vs 1`, 1e-6);
  s.dispose();
});

// ---- shape rules --------------------------------------------------------------------------------------------

test('shape rules: the new ops refuse what does not fit, with VIT_E_SHAPE and a precise message', (t) => {
  const s = store({ w7: [[7], randn(7, 1)], w4: [[4], randn(4, 2)], w5: [[5], randn(5, 3)] });
  const refuses = (what: string, build: (g: GraphBuilder) => Sym, msg: RegExp, code = 'VIT_E_SHAPE') => {
    const r = refusal(s, build);
    t.is(r.code, code, `${what}: ${r.message}`);
    t.regex(r.message, msg, what);
  };
  const op = (g: GraphBuilder, name: string, ins: number[][], out: number[], opts: object = {}) =>
    g.op(name as 'add', name, ins.map((sh) => g.input(sh)), out, opts as never);
  refuses('act code out of range', (g) => op(g, 'act', [[2, 3]], [2, 3], { attrs: { act: 8 } }), /act/);
  refuses('linear act out of range', (g) => op(g, 'linear', [[2, 7]], [2, 7], { weights: { weight: 'w7' }, attrs: { act: 9 } }), /act/);
  refuses('mul shapes differ', (g) => op(g, 'mul', [[2, 3], [2, 4]], [2, 3]), /\[2,3\].*\[2,4\]/);
  refuses('mul output', (g) => op(g, 'mul', [[2, 3], [2, 3]], [2, 4]), /output/);
  refuses('glu odd width', (g) => op(g, 'glu', [[2, 7]], [2, 3], { attrs: { act: 5 } }), /even|2H/);
  refuses('glu output width', (g) => op(g, 'glu', [[2, 8]], [2, 8], { attrs: { act: 5 } }), /output/);
  refuses('rms_norm weight', (g) => op(g, 'rms_norm', [[2, 5]], [2, 5], { weights: { weight: 'w7' } }), /weight/);
  refuses('head_norm heads', (g) => op(g, 'head_norm', [[2, 21]], [2, 21], { weights: { q_weight: 'w7', k_weight: 'w7' }, attrs: { heads: 2 } }), /heads/);
  refuses('head_norm not 3D', (g) => op(g, 'head_norm', [[2, 8]], [2, 8], { weights: { q_weight: 'w4', k_weight: 'w4' }, attrs: { heads: 1 } }), /3D|qkv/);
  refuses('head_norm weight', (g) => op(g, 'head_norm', [[2, 12]], [2, 12], { weights: { q_weight: 'w5', k_weight: 'w4' }, attrs: { heads: 1 } }), /q_weight/);
  refuses('head_norm bias on RmsNorm', (g) => op(g, 'head_norm', [[2, 12]], [2, 12], { weights: { q_weight: 'w4', k_weight: 'w4', q_bias: 'w4' }, attrs: { heads: 1, kind: 1 } }), /bias/);
  refuses('slice_last range', (g) => op(g, 'slice_last', [[2, 5]], [2, 3], { attrs: { start: 3, count: 3 } }), /start|range/);
  refuses('slice_last output', (g) => op(g, 'slice_last', [[2, 5]], [2, 2], { attrs: { start: 0, count: 3 } }), /output/);
  refuses('attention kv width', (g) => op(g, 'attention', [[1, 2, 6], [2, 5, 6]], [2, 2, 6], { attrs: { heads: 2 } }), /kv/);
  refuses('attention q batch', (g) => op(g, 'attention', [[3, 2, 6], [2, 5, 12]], [2, 2, 6], { attrs: { heads: 2 } }), /batch/);
  refuses('attention k != v', (g) => op(g, 'attention', [[2, 2, 6], [2, 5, 6], [2, 4, 6]], [2, 2, 6], { attrs: { heads: 2 } }), /v/);
  refuses('attention heads', (g) => op(g, 'attention', [[1, 2, 6], [2, 5, 12]], [2, 2, 6], { attrs: { heads: 4 } }), /heads/);
  refuses('attention queries with q given', (g) => op(g, 'attention', [[1, 2, 6], [2, 5, 12]], [2, 1, 6], { attrs: { heads: 2, queries: 1 } }), /queries/);
  s.dispose();
});
