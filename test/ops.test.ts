// Every native op on its own: single-node graphs (GraphBuilder + binding.Program) on odd shapes against float64
// references written here in TypeScript; pos_resample against timm-vit-spec §3.4's formulas and worked example.
import test, { type ExecutionContext } from 'ava';
import { binding } from '../lib/binding.ts';
import { GraphBuilder, type OpWeights } from '../lib/graph/builder.ts';
import { near, OP_TOL, opStore as store, randn, relErr, runOp as run } from './helpers.ts';
import { ACTS, attentionRef as attention, heads as at, layerNormRef, softmaxRow } from './op-refs.ts';

type Arr = ArrayLike<number>;

// ---- float64 references (shared ones in op-refs.ts) --------------------------------------------------------

const gelu = ACTS[1];

function linearRef(x: Arr, k: number, w: Arr, n: number, o: { b?: Arr; act?: number; gamma?: Arr; res?: Arr }): number[] {
  const out: number[] = [];
  for (let r = 0; r < x.length / k; r++)
    for (let c = 0; c < n; c++) {
      let s = o.b ? o.b[c] : 0;
      for (let i = 0; i < k; i++) s += x[r * k + i] * w[c * k + i];
      if (o.act) s = ACTS[o.act](s);
      if (o.gamma) s *= o.gamma[c];
      if (o.res) s += o.res[r * n + c];
      out.push(s);
    }
  return out;
}

/** Attention over packed qkv[B,T,3D]: every query row. */
function attentionRef(qkv: Arr, b: number, tt: number, d: number, heads: number, scale: number): number[] {
  const hd = d / heads;
  return attention(at(qkv, b, tt, 3 * d, 0, hd), at(qkv, b, tt, 3 * d, d, hd), at(qkv, b, tt, 3 * d, 2 * d, hd), b, tt, tt, d, heads, scale);
}

function poolRef(x: Arr, b: number, tt: number, d: number, mode: number, start: number, index: number): number[] {
  const out: number[] = [];
  for (let bi = 0; bi < b; bi++)
    for (let j = 0; j < d; j++) {
      const v = (r: number) => x[(bi * tt + r) * d + j];
      if (mode === 0) {
        out.push(v(index));
        continue;
      }
      let s = 0;
      let m = -Infinity;
      for (let r = start; r < tt; r++) {
        s += v(r);
        m = Math.max(m, v(r));
      }
      const avg = s / (tt - start);
      out.push(mode === 1 ? avg : mode === 2 ? m : 0.5 * (avg + m));
    }
  return out;
}

/** timm-vit-spec §3.4: the dense [out, in] 1-D weight matrix of each resampling mode. */
function taps(inp: number, out: number, mode: 0 | 1 | 2): number[][] {
  const K = (d: number, a: number) => {
    d = Math.abs(d);
    if (d <= 1) return (a + 2) * d ** 3 - (a + 3) * d ** 2 + 1;
    if (d < 2) return a * d ** 3 - 5 * a * d ** 2 + 8 * a * d - 4 * a;
    return 0;
  };
  const scale = inp / out;
  const W: number[][] = [];
  for (let i = 0; i < out; i++) {
    const row = new Array(inp).fill(0);
    if (mode === 0) {
      const src = Math.max(scale * (i + 0.5) - 0.5, 0);
      const i0 = Math.floor(src);
      const i1 = Math.min(i0 + 1, inp - 1);
      const f = src - i0;
      row[i0] += 1 - f;
      row[i1] += f;
    } else if (mode === 2) {
      const src = scale * (i + 0.5) - 0.5;
      const f = Math.floor(src);
      const tt = src - f;
      const k = [K(tt + 1, -0.75), K(tt, -0.75), K(1 - tt, -0.75), K(2 - tt, -0.75)];
      for (let j = 0; j < 4; j++) row[Math.min(Math.max(f - 1 + j, 0), inp - 1)] += k[j];
    } else {
      const ss = Math.max(scale, 1);
      const support = 2 * ss;
      const center = scale * (i + 0.5);
      const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
      const xmax = Math.min(Math.trunc(center + support + 0.5), inp);
      let total = 0;
      for (let j = xmin; j < xmax; j++) total += row[j] = K((j - center + 0.5) / ss, -0.5);
      for (let j = xmin; j < xmax; j++) row[j] /= total;
    }
    W.push(row);
  }
  return W;
}

function resampleRef(pos: Arr, prefix: number, oh: number, ow: number, h: number, w: number, d: number, mode: 0 | 1 | 2): number[] {
  const out: number[] = Array.from(pos).slice(0, prefix * d);
  const Wy = taps(oh, h, mode);
  const Wx = taps(ow, w, mode);
  for (let r = 0; r < h; r++)
    for (let c = 0; c < w; c++)
      for (let k = 0; k < d; k++) {
        let s = 0;
        for (let y = 0; y < oh; y++)
          for (let x = 0; x < ow; x++) s += Wy[r][y] * Wx[c][x] * pos[(prefix + y * ow + x) * d + k];
        out.push(s);
      }
  return out;
}

// ---- layer_norm, linear, elementwise ------------------------------------------------------------------------

test('layer_norm: odd shapes, eps matters', (t) => {
  for (const [shape, eps, scale] of [[[2, 5, 7], 1e-6, 1], [[3, 13], 1e-5, 1], [[1, 3, 33], 1e-2, 0.05]] as [number[], number, number][]) {
    const d = shape.at(-1)!;
    const x = randn(shape.reduce((a, b) => a * b), 1 + d, scale);
    const w = randn(d, 2 + d);
    const b = randn(d, 3 + d);
    const s = store({ 'n.weight': [[d], w], 'n.bias': [[d], b] });
    const y = run(s, (g) => g.op('layer_norm', 'n', [g.input(shape)], shape, { weights: { weight: 'n.weight', bias: 'n.bias' }, attrs: { eps } }), [x]);
    near(t, y, shape, layerNormRef(x, d, w, b, eps), `layer_norm ${shape} eps ${eps}`);
    if (eps === 1e-2) {
      // with small-variance rows eps changes the result a lot: the kernel really uses it
      t.true(relErr(y.data, layerNormRef(x, d, w, b, 1e-6)) > 1e-2);
    }
    s.dispose();
  }
});

test('linear: bias / no bias, gelu / tanh, gamma, residual, 2-D and 3-D inputs', (t) => {
  const K = 37;
  const N = 11;
  const w = randn(N * K, 10, 0.3);
  const b = randn(N, 11);
  const gamma = randn(N, 12);
  const s = store({ 'l.weight': [[N, K], w], 'l.bias': [[N], b], 'l.gamma': [[N], gamma] });
  for (const shape of [[2, 3, K], [5, K], [1, 1, K]]) {
    const x = randn(shape.reduce((a, c) => a * c), 13 + shape.length);
    const outShape = [...shape.slice(0, -1), N];
    const res = randn(outShape.reduce((a, c) => a * c), 14);
    for (const act of [0, 1, 2, 3])
      for (const bias of [true, false])
        for (const withGamma of [false, true])
          for (const withRes of [false, true]) {
            const weights: OpWeights['linear'] = { weight: 'l.weight' };
            if (bias) weights.bias = 'l.bias';
            if (withGamma) weights.gamma = 'l.gamma';
            const y = run(s, (g) => {
              const xi = g.input(shape);
              const ins = withRes ? [xi, g.input(outShape)] : [xi];
              return g.op('linear', 'l', ins, outShape, { weights, attrs: { act } });
            }, withRes ? [x, res] : [x]);
            const ref = linearRef(x, K, w, N, { b: bias ? b : undefined, act, gamma: withGamma ? gamma : undefined, res: withRes ? res : undefined });
            near(t, y, outShape, ref, `linear ${shape} act ${act} bias ${bias} gamma ${withGamma} res ${withRes}`);
          }
  }
  s.dispose();
});

test('linear + GELU over more than 1 MiB of output per thread: row chunks (+ a smaller last one) equal the reference', (t) => {
  // 700 rows x 512 columns at 1 thread: chunks of 512 rows + 188; at 2 threads 350 rows each: 2 x (256 + 94).
  const [M, K, N] = [700, 64, 512];
  const w = randn(N * K, 70, 0.2);
  const b = randn(N, 71);
  const s = store({ 'l.weight': [[N, K], w], 'l.bias': [[N], b] });
  const x = randn(M * K, 72);
  const ref = linearRef(x, K, w, N, { b, act: 1 });
  for (const threads of [1, 2]) {
    const y = run(s, (g) => g.op('linear', 'l', [g.input([M, K])], [M, N], { weights: { weight: 'l.weight', bias: 'l.bias' }, attrs: { act: 1 } }), [x], threads);
    near(t, y, [M, N], ref, `${threads} thread(s)`);
  }
  s.dispose();
});

test('linear: packing drops the float32 host copy; get() rebuilds it exactly; later programs (other rows, threads) agree', (t) => {
  const K = 29;
  const N = 19;
  const w = randn(N * K, 40, 0.3);
  const s = store({ 'l.weight': [[N, K], w] });
  for (const [shape, threads] of [[[3, 5, K], 2], [[7, K], 3], [[1, K], 1], [[4, 9, K], 5]] as [number[], number][]) {
    const x = randn(shape.reduce((a, c) => a * c), 41 + threads);
    const outShape = [...shape.slice(0, -1), N];
    const y = run(s, (g) => g.op('linear', 'l', [g.input(shape)], outShape, { weights: { weight: 'l.weight' } }), [x], threads);
    near(t, y, outShape, linearRef(x, K, w, N, {}), `linear ${shape} at ${threads} threads`);
    t.deepEqual(s.get('l.weight'), w, 'get() returns the exact weights after packing');
  }
  s.dispose();
});

test('linear in opt-in bfloat16 (CPU, AVX512-BF16 only): close to float32 at bf16 precision; weights still exact', (t) => {
  const [K, N] = [64, 24];
  const w = randn(N * K, 70, 0.3);
  const s = store({ 'l.weight': [[N, K], w] });
  const x = randn(3 * 5 * K, 71);
  const g = new GraphBuilder();
  g.output('y', g.op('linear', 'l', [g.input([3, 5, K])], [3, 5, N], { weights: { weight: 'l.weight' } }));
  let p;
  try {
    p = new binding.Program(g.spec(), s, { device: 'cpu', dtype: 'bfloat16' });
  } catch (e) {
    t.is((e as { code?: string }).code, 'VIT_E_UNSUPPORTED');
    t.pass('no AVX512-BF16 here');
    s.dispose();
    return;
  }
  const [y] = p.runSync([x], 2);
  p.dispose();
  const e = relErr(y.data, linearRef(x, K, w, N, {}));
  t.true(e < 2e-2 && e > 1e-6, `bf16 rel err ${e.toExponential(2)}`);
  t.deepEqual(s.get('l.weight'), w);
  s.dispose();
});

test('row-parallel regions: transformer blocks give the same result at 1, 2, 3 and 5 threads, pruned last block too', (t) => {
  const [B, T, D, H] = [2, 13, 24, 3];
  const ws: Record<string, [number[], Float32Array]> = {};
  const lin = (name: string, n: number, k: number, seed: number) => {
    ws[`${name}.weight`] = [[n, k], randn(n * k, seed, 0.2)];
    ws[`${name}.bias`] = [[n], randn(n, seed + 1, 0.1)];
  };
  lin('qkv', 3 * D, D, 50);
  lin('proj', D, D, 52);
  lin('fc1', 4 * D, D, 54);
  lin('fc2', D, 4 * D, 56);
  for (const n of ['n1', 'n2']) ws[`${n}.weight`] = [[D], randn(D, n.length + 60)], ws[`${n}.bias`] = [[D], randn(D, n.length + 61)];
  const pos = randn(T * D, 63, 0.5);
  ws['pos'] = [[1, T, D], pos];
  const s = store(ws);
  const x = randn(B * T * D, 64);
  const lw = (n: string) => ({ weights: { weight: `${n}.weight`, bias: `${n}.bias` } });
  // Three blocks; with `keep`, the last computes only its first `keep` tokens (slice_tokens + attention queries).
  const blocks = (keep?: number) => (g: GraphBuilder) => {
    let h = g.input([B, T, D]);
    h = g.op('add', 'pos', [h, g.op('weight', 'p', [], [1, T, D], { weights: { weight: 'pos' } })], [B, T, D]);
    for (let i = 0; i < 3; i++) {
      const q = i === 2 && keep ? keep : T;
      const a = g.op('layer_norm', 'n1', [h], [B, T, D], { ...lw('n1'), attrs: { eps: 1e-6 } });
      const qkv = g.op('linear', 'qkv', [a], [B, T, 3 * D], lw('qkv'));
      const res = q < T ? g.op('slice_tokens', 'keep', [h], [B, q, D], { attrs: { start: 0, count: q } }) : h;
      const att = g.op('attention', 'a', [qkv], [B, q, D], { attrs: { heads: H, scale: 0.3, ...(q < T ? { queries: q } : {}) } });
      h = g.op('linear', 'proj', [att, res], [B, q, D], lw('proj'));
      const m = g.op('layer_norm', 'n2', [h], [B, q, D], { ...lw('n2'), attrs: { eps: 1e-6 } });
      const f = g.op('linear', 'fc1', [m], [B, q, 4 * D], { ...lw('fc1'), attrs: { act: 1 } });
      h = g.op('linear', 'fc2', [f, h], [B, q, D], lw('fc2'));
    }
    return g.op('softmax', 'sm', [h], [B, keep ?? T, D]);
  };
  const ref = run(s, blocks(), [x], 1);
  for (const threads of [2, 3, 5]) near(t, run(s, blocks(), [x], threads), [B, T, D], ref.data, `${threads} threads vs 1`, 1e-6);
  // The pruned last block equals the same rows of the full one, at every thread count.
  const K = 2;
  const rows = [...ref.data.slice(0, K * D), ...ref.data.slice(T * D, (T + K) * D)];
  for (const threads of [1, 2, 3, 5]) near(t, run(s, blocks(K), [x], threads), [B, K, D], rows, `pruned last block, ${threads} threads`, 1e-6);
  s.dispose();
});

test('gelu (exact erf) and tanh elementwise; softmax over the last dim, stable for large values', (t) => {
  const shape = [3, 7, 9];
  const x = randn(189, 21, 3);
  const s = store();
  near(t, run(s, (g) => g.op('gelu', 'g', [g.input(shape)], shape), [x]), shape, Array.from(x, gelu), 'gelu');
  near(t, run(s, (g) => g.op('tanh', 't', [g.input(shape)], shape), [x]), shape, Array.from(x, Math.tanh), 'tanh');
  // erf reference sanity (gelu's tanh approximation would differ by ~1e-3 here)
  t.true(Math.abs(gelu(1) - 0.8413447460685429) < 1e-15);
  const big = Float32Array.from(x, (v, i) => (i % 9 === 4 ? v + 100 : v * 10));
  const ref: number[] = [];
  for (let r = 0; r < 21; r++) ref.push(...softmaxRow(Array.from(big.subarray(r * 9, r * 9 + 9))));
  const y = run(s, (g) => g.op('softmax', 's', [g.input(shape)], shape), [big]);
  near(t, y, shape, ref, 'softmax');
  t.true(y.data.every(Number.isFinite));
  s.dispose();
});

// ---- attention ----------------------------------------------------------------------------------------------

for (const T of [1, 5, 197]) {
  test(`attention T=${T}, 3 heads`, (t) => {
    const B = 2;
    const heads = 3;
    const D = 12;
    const qkv = randn(B * T * 3 * D, 30 + T, 1.5);
    const s = store();
    for (const scale of [0.5, 0.125]) {
      const y = run(s, (g) => g.op('attention', 'a', [g.input([B, T, 3 * D])], [B, T, D], { attrs: { heads, scale } }), [qkv]);
      near(t, y, [B, T, D], attentionRef(qkv, B, T, D, heads, scale), `attention T=${T} scale ${scale}`);
    }
    if (T > 1) {
      // queries: only the first Q query rows, each over all T keys (the pruned last block)
      const full = attentionRef(qkv, B, T, D, heads, 0.5);
      for (const Q of [1, 2, T - 1]) {
        const y = run(s, (g) => g.op('attention', 'a', [g.input([B, T, 3 * D])], [B, Q, D], { attrs: { heads, scale: 0.5, queries: Q } }), [qkv]);
        const want = [...full.slice(0, Q * D), ...full.slice(T * D, (T + Q) * D)];
        near(t, y, [B, Q, D], want, `attention T=${T} queries ${Q}`);
      }
    }
    if (T === 1) {
      // one token: softmax is 1, the output is v
      const y = run(s, (g) => g.op('attention', 'a', [g.input([B, 1, 3 * D])], [B, 1, D], { attrs: { heads, scale: 0.3 } }), [qkv]);
      near(t, y, [B, 1, D], [...qkv.slice(2 * D, 3 * D), ...qkv.slice(5 * D, 6 * D)], 'T=1 is v');
    }
    s.dispose();
  });
}

// ---- pooling and token bookkeeping --------------------------------------------------------------------------

test('pool: token (index), avg, max, avgmax with start', (t) => {
  const [B, T, D] = [3, 7, 5];
  const x = randn(B * T * D, 40);
  const s = store();
  for (const mode of [0, 1, 2, 3])
    for (const start of [0, 1, 2])
      for (const index of mode === 0 ? [0, 1, 6] : [0]) {
        const y = run(s, (g) => g.op('pool', 'p', [g.input([B, T, D])], [B, D], { attrs: { mode, start, index } }), [x]);
        near(t, y, [B, D], poolRef(x, B, T, D, mode, start, index), `pool mode ${mode} start ${start} index ${index}`, 1e-6);
      }
  s.dispose();
});

test('concat_prefix, slice_tokens, tokens_to_nchw', (t) => {
  const [B, N, D] = [2, 6, 5];
  const x = randn(B * N * D, 50);
  const a = randn(D, 51);
  const bb = randn(2 * D, 52);
  const s = store({ a: [[1, 1, D], a], b: [[1, 2, D], bb] });
  const y = run(s, (g) => g.op('concat_prefix', 'c', [g.input([B, N, D]), g.weight('a', [1, 1, D]), g.weight('b', [1, 2, D])], [B, N + 3, D]), [x]);
  const ref: number[] = [];
  for (let bi = 0; bi < B; bi++) ref.push(...a, ...bb, ...x.slice(bi * N * D, (bi + 1) * N * D));
  near(t, y, [B, N + 3, D], ref, 'concat_prefix', 0);

  const sl = run(s, (g) => g.op('slice_tokens', 's', [g.input([B, N, D])], [B, 3, D], { attrs: { start: 2, count: 3 } }), [x]);
  near(t, sl, [B, 3, D], [...x.slice(2 * D, 5 * D), ...x.slice((N + 2) * D, (N + 5) * D)], 'slice_tokens', 0);

  const nchw = run(s, (g) => g.op('tokens_to_nchw', 'n', [g.input([B, N, D])], [B, D, 2, 3], { attrs: { h: 2, w: 3 } }), [x]);
  const want: number[] = [];
  for (let bi = 0; bi < B; bi++)
    for (let c = 0; c < D; c++)
      for (let i = 0; i < N; i++) want.push(x[(bi * N + i) * D + c]);
  near(t, nchw, [B, D, 2, 3], want, 'tokens_to_nchw', 0);
  s.dispose();
});

test('add: same batch, batch broadcast, alpha / beta', (t) => {
  const shape = [3, 4, 5];
  const x = randn(60, 60);
  const y2 = randn(60, 61);
  const p = randn(20, 62);
  const s = store({ p: [[1, 4, 5], p] });
  near(t, run(s, (g) => g.op('add', 'a', [g.input(shape), g.input(shape)], shape), [x, y2]), shape, Array.from(x, (v, i) => v + y2[i]), 'add', 1e-6);
  near(t, run(s, (g) => g.op('add', 'a', [g.input(shape), g.weight('p', [1, 4, 5])], shape), [x]), shape, Array.from(x, (v, i) => v + p[i % 20]), 'add broadcast', 1e-6);
  near(t, run(s, (g) => g.op('add', 'a', [g.input(shape), g.input([1, 4, 5])], shape, { attrs: { alpha: 2, beta: -0.5 } }), [x, p]), shape,
    Array.from(x, (v, i) => 2 * v - 0.5 * p[i % 20]), 'add alpha/beta broadcast', 1e-6);
  s.dispose();
});

// ---- patch_embed --------------------------------------------------------------------------------------------

function patchEmbedRef(x: Arr, b: number, c: number, h: number, w: number, p: number, wt: Arr, bias: Arr | null, d: number): number[] {
  const gh = Math.ceil(h / p);
  const gw = Math.ceil(w / p);
  const out: number[] = [];
  for (let bi = 0; bi < b; bi++)
    for (let gy = 0; gy < gh; gy++)
      for (let gx = 0; gx < gw; gx++)
        for (let o = 0; o < d; o++) {
          let s = bias ? bias[o] : 0;
          for (let ci = 0; ci < c; ci++)
            for (let py = 0; py < p; py++)
              for (let px = 0; px < p; px++) {
                const yy = gy * p + py;
                const xx = gx * p + px;
                if (yy < h && xx < w) s += x[((bi * c + ci) * h + yy) * w + xx] * wt[((o * c + ci) * p + py) * p + px];
              }
          out.push(s);
        }
  return out;
}

test('patch_embed: exact multiples, dynamic padding (zero right/bottom), no bias, 1 channel', (t) => {
  for (const [b, c, h, w, p, pad, withBias] of [
    [2, 3, 8, 12, 4, 0, 1], [2, 3, 10, 13, 4, 1, 1], [1, 1, 9, 9, 3, 0, 0], [1, 2, 5, 3, 4, 1, 0], [3, 3, 16, 16, 16, 0, 1],
  ]) {
    const D = 5;
    const x = randn(b * c * h * w, 70 + h);
    const wt = randn(D * c * p * p, 71 + p, 0.2);
    const bias = randn(D, 72);
    const s = store({ 'pe.weight': [[D, c, p, p], wt], 'pe.bias': [[D], bias] });
    const weights: OpWeights['patch_embed'] = { weight: 'pe.weight' };
    if (withBias) weights.bias = 'pe.bias';
    const n = Math.ceil(h / p) * Math.ceil(w / p);
    const y = run(s, (g) => g.op('patch_embed', 'pe', [g.input([b, c, h, w])], [b, n, D], { weights, attrs: { patch: p, pad } }), [x]);
    near(t, y, [b, n, D], patchEmbedRef(x, b, c, h, w, p, wt, withBias ? bias : null, D), `patch_embed ${[b, c, h, w]} p ${p} pad ${pad}`);
    s.dispose();
  }
});

// ---- pos_resample (timm-vit-spec §3.4) ----------------------------------------------------------------------

const AA_EXAMPLE = [-0.0882, 0.2117, 0.8473, 0.8672, 0.2266, -0.0687, -0.0219, 0];
const BICUBIC_EXAMPLE = [-0.1055, 0.2617, 0.8789, 0.8789, 0.2617, -0.1055, -0.0352, 0];

test('§3.4 reference reproduces the spec worked example (impulse at 1 of 4, upsampled to 8)', (t) => {
  const impulse = [0, 1, 0, 0];
  const apply = (mode: 0 | 1 | 2) => taps(4, 8, mode).map((row) => row.reduce((a, v, j) => a + v * impulse[j], 0));
  apply(1).forEach((v, i) => t.true(Math.abs(v - AA_EXAMPLE[i]) < 5e-5, `AA[${i}] = ${v}`));
  apply(2).forEach((v, i) => t.true(Math.abs(v - BICUBIC_EXAMPLE[i]) < 5e-5, `bicubic[${i}] = ${v}`));
  // every mode's rows sum to 1 (a constant stays constant)
  for (const mode of [0, 1, 2] as const) for (const row of taps(7, 3, mode)) t.true(Math.abs(row.reduce((a, b) => a + b) - 1) < 1e-12);
});

test('pos_resample: the spec worked example through the native op (1x4 grid -> 1x8)', (t) => {
  const s = store();
  const pos = new Float32Array([0, 1, 0, 0]); // prefix 0, D 1
  const go = (mode: number) => run(s, (g) => g.op('pos_resample', 'r', [g.input([1, 4, 1])], [1, 8, 1], { attrs: { prefix: 0, old_h: 1, old_w: 4, h: 1, w: 8, mode } }), [pos]);
  near(t, go(1), [1, 8, 1], AA_EXAMPLE, 'bicubic+AA example', 5e-5);
  near(t, go(2), [1, 8, 1], BICUBIC_EXAMPLE, 'plain bicubic example', 5e-5);
  near(t, go(0), [1, 8, 1], resampleRef(pos, 0, 1, 4, 1, 8, 1, 0), 'bilinear', 1e-7);
  // the same impulse down a column (the H pass)
  const col = run(s, (g) => g.op('pos_resample', 'r', [g.input([1, 4, 1])], [1, 8, 1], { attrs: { prefix: 0, old_h: 4, old_w: 1, h: 8, w: 1, mode: 1 } }), [pos]);
  near(t, col, [1, 8, 1], AA_EXAMPLE, 'AA example along H', 5e-5);
  s.dispose();
});

test('pos_resample: bilinear / bicubic+AA / bicubic vs the §3.4 float64 reference, up and down, with prefix tokens', (t) => {
  const s = store();
  const D = 3;
  for (const [prefix, oh, ow, h, w] of [[1, 3, 4, 5, 7], [0, 7, 7, 4, 3], [2, 4, 4, 4, 4], [1, 2, 5, 6, 2], [1, 14, 14, 24, 24], [1, 14, 14, 5, 9]]) {
    const pos = randn((prefix + oh * ow) * D, 80 + oh * 7 + w);
    for (const mode of [0, 1, 2] as const) {
      const out = [1, prefix + h * w, D];
      const y = run(s, (g) => g.op('pos_resample', 'r', [g.input([1, prefix + oh * ow, D])], out, { attrs: { prefix, old_h: oh, old_w: ow, h, w, mode } }), [pos]);
      near(t, y, out, resampleRef(pos, prefix, oh, ow, h, w, D, mode), `pos_resample ${oh}x${ow}->${h}x${w} prefix ${prefix} mode ${mode}`);
      t.deepEqual(Array.from(y.data.slice(0, prefix * D)), Array.from(pos.slice(0, prefix * D)), 'prefix tokens copied');
    }
    if (oh === 14 && h === 24) {
      // antialiased and plain bicubic really differ when upsampling (spec: max 0.43 on N(0,1) data, 14 -> 24)
      const aa = resampleRef(pos, prefix, oh, ow, h, w, D, 1);
      const plain = resampleRef(pos, prefix, oh, ow, h, w, D, 2);
      t.true(relErr(aa, plain) > 0.05);
    }
  }
  s.dispose();
});

// ---- malformed graph specs ----------------------------------------------------------------------------------

test('malformed graph specs are rejected with typed errors, and a good program still runs', (t) => {
  const D = 6;
  const w = randn(D * D, 90);
  const s = store({ 'l.weight': [[D, D], w], 'l.bias': [[D], randn(D, 91)], 'n.weight': [[D], randn(D, 92)], 'n.bias': [[D], randn(D, 93)] });
  const linear = (over: Partial<{ inputs: number[]; output: number; weights: Record<string, string>; attrs: Record<string, number> }> = {}, shapes = [[2, D], [2, D]]) => ({
    shapes,
    inputs: [0],
    outputs: [['y', 1]] as [string, number][],
    nodes: [{ op: 'linear', name: 'l', inputs: [0], output: 1, weights: { weight: 'l.weight', bias: 'l.bias' }, attrs: { act: 0 }, ...over }],
  });
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      return (e as { code?: string }).code;
    }
    return 'no error';
  };
  const make = (spec: ReturnType<typeof linear>) => () => new binding.Program(spec, s, { device: 'cpu' });
  // bad shapes
  t.is(code(make(linear({}, [[2, D], [2, D + 1]]))), 'VIT_E_SHAPE', 'declared output shape is wrong');
  t.is(code(make(linear({}, [[2, D + 1], [2, D]]))), 'VIT_E_SHAPE', 'input does not fit the weight');
  t.is(code(make(linear({}, [[2, 0], [2, D]]))), 'VIT_E_SHAPE', 'zero dimension');
  t.is(code(make(linear({ attrs: { act: 8 } }))), 'VIT_E_SHAPE', 'unknown activation');
  t.is(code(make({ ...linear(), nodes: [{ op: 'attention', name: 'a', inputs: [0], output: 1, weights: {}, attrs: { heads: 4, scale: 1 } }], shapes: [[1, 2, 18], [1, 2, 6]] })), 'VIT_E_SHAPE', 'heads do not divide D');
  t.is(code(make({ ...linear(), nodes: [{ op: 'attention', name: 'a', inputs: [0], output: 1, weights: {}, attrs: { heads: 2, scale: 1, queries: 3 } }], shapes: [[1, 2, 18], [1, 3, 6]] })), 'VIT_E_SHAPE', 'more queries than tokens');
  t.is(code(make({ ...linear(), nodes: [{ op: 'pool', name: 'p', inputs: [0], output: 1, weights: {}, attrs: { mode: 0, index: 5 } }], shapes: [[1, 3, 6], [1, 6]] })), 'VIT_E_SHAPE', 'pool index past T');
  t.is(code(make({ ...linear(), nodes: [{ op: 'pos_resample', name: 'r', inputs: [0], output: 1, weights: {}, attrs: { prefix: 1, old_h: 3, old_w: 3, h: 2, w: 2, mode: 1 } }], shapes: [[1, 9, 6], [1, 5, 6]] })), 'VIT_E_SHAPE', 'pos_embed is not prefix + grid');
  // bad tensor ids
  t.is(code(make(linear({ inputs: [7] }))), 'VIT_E_ARGUMENT', 'input id out of range');
  t.is(code(make(linear({ inputs: [-1] }))), 'VIT_E_ARGUMENT', 'negative input id');
  t.is(code(make(linear({ output: 5 }))), 'VIT_E_ARGUMENT', 'output id out of range');
  t.is(code(make(linear({ output: 0 }, [[2, D], [2, D]]))), 'VIT_E_ARGUMENT', 'tensor defined twice');
  t.is(code(make({ ...linear(), inputs: [] })), 'VIT_E_ARGUMENT', 'input never defined');
  t.is(code(make({ ...linear(), outputs: [['y', 3]] })), 'VIT_E_ARGUMENT', 'graph output out of range');
  t.is(code(make({ ...linear(), shapes: [[2, D], [2, D], [2, D]], outputs: [['y', 2]] })), 'VIT_E_ARGUMENT', 'graph output never computed');
  // missing weights
  t.is(code(make(linear({ weights: { weight: 'no.such.weight' } }))), 'VIT_E_CHECKPOINT', 'weight not in the store');
  t.is(code(make(linear({ weights: { weight: 'l.weight', bias: 'no.such.bias' } }))), 'VIT_E_CHECKPOINT', 'bias not in the store');
  t.is(code(make(linear({ weights: {} }))), 'VIT_E_SHAPE', 'weight role missing');
  t.is(code(make(linear({ weights: { weight: 'n.weight' } }))), 'VIT_E_SHAPE', 'a 1-D weight for linear');
  // unknown op
  t.is(code(make(linear({ op: 'conv3d' } as never))), 'VIT_E_UNSUPPORTED', 'unknown op');
  // bad feeds at run time
  const p = make(linear())();
  t.is(code(() => p.runSync([], 1)), 'VIT_E_ARGUMENT', 'no inputs');
  t.is(code(() => p.runSync([new Float32Array(5)], 1)), 'VIT_E_SHAPE', 'input of the wrong size');
  t.is(code(() => p.runSync([new Float64Array(2 * D) as never], 1)), 'VIT_E_ARGUMENT', 'Float64Array input');
  // and the good program, after all that, computes the right thing
  const x = randn(2 * D, 94);
  const [y] = p.runSync([x], 2);
  t.true(relErr(y.data, linearRef(x, D, w, D, { b: s.get('l.bias') })) <= OP_TOL);
  p.dispose();
  t.is(code(() => p.runSync([x], 1)), 'VIT_E_DISPOSED', 'disposed program');
  s.dispose();
});
