// The hybrid-backbone ops on their own (conv2d with weight standardisation / folded BatchNorm / residual / ReLU,
// group_norm, relu, max_pool2d, avg_pool2d) on odd shapes against float64 references written here, and the
// hybrid module tree's padding rules (timm TF 'same').
import test, { type ExecutionContext } from 'ava';
import { binding, type NativeWeightStore } from '../lib/binding.ts';
import { GraphBuilder, type OpWeights, type Sym } from '../lib/graph/builder.ts';
import { samePadding } from '../lib/models/conv-layers.ts';
import { near, OP_TOL, randn, relErr } from './helpers.ts';

type Arr = ArrayLike<number>;

function store(weights: Record<string, [number[], Float32Array]>): NativeWeightStore {
  const s = new binding.WeightStore();
  for (const [k, [shape, data]] of Object.entries(weights)) s.set(k, shape, data);
  return s;
}

function run(s: NativeWeightStore, build: (g: GraphBuilder, inputs: Sym[]) => Sym, feeds: [number[], Float32Array][], threads = 2) {
  const g = new GraphBuilder();
  const ins = feeds.map(([shape]) => g.input(shape));
  g.output('y', build(g, ins));
  const p = new binding.Program(g.spec(), s, { device: 'cpu' });
  try {
    return p.runSync(feeds.map(([, d]) => d), threads)[0];
  } finally {
    p.dispose();
  }
}


interface ConvRef {
  stride: number;
  dilation: number;
  pad: [number, number, number, number]; // t, l, b, r
  bias?: Arr;
  ws?: 0 | 1 | 2;
  wsEps?: number;
  bn?: { g: Arr; b: Arr; m: Arr; v: Arr; eps: number };
  relu?: boolean;
  res?: Arr;
}

/** float64 conv2d on NCHW, with timm's weight standardisation and an eval BatchNorm applied after the conv. */
function convRef(x: Arr, [B, C, H, W]: number[], w: Arr, [O, , kh, kw]: number[], o: ConvRef): { shape: number[]; y: number[] } {
  const [pt, pl, pb, pr] = o.pad;
  const d = o.dilation;
  const OH = Math.floor((H + pt + pb - d * (kh - 1) - 1) / o.stride) + 1;
  const OW = Math.floor((W + pl + pr - d * (kw - 1) - 1) / o.stride) + 1;
  const per = C * kh * kw;
  const ww = Array.from(w, Number);
  if (o.ws) {
    for (let oc = 0; oc < O; oc++) {
      const row = ww.slice(oc * per, (oc + 1) * per);
      const m = row.reduce((a, b) => a + b, 0) / per;
      const v = row.reduce((a, b) => a + (b - m) ** 2, 0) / per;
      const den = o.ws === 1 ? Math.sqrt(v) + o.wsEps! : Math.sqrt(v + o.wsEps!);
      for (let i = 0; i < per; i++) ww[oc * per + i] = (row[i] - m) / den;
    }
  }
  const y: number[] = [];
  for (let b = 0; b < B; b++)
    for (let oc = 0; oc < O; oc++)
      for (let i = 0; i < OH; i++)
        for (let j = 0; j < OW; j++) {
          let s = o.bias ? o.bias[oc] : 0;
          for (let c = 0; c < C; c++)
            for (let u = 0; u < kh; u++)
              for (let v = 0; v < kw; v++) {
                const yi = i * o.stride - pt + u * d;
                const xj = j * o.stride - pl + v * d;
                if (yi < 0 || yi >= H || xj < 0 || xj >= W) continue;
                s += x[((b * C + c) * H + yi) * W + xj] * ww[((oc * C + c) * kh + u) * kw + v];
              }
          if (o.bn) s = ((s - o.bn.m[oc]) / Math.sqrt(o.bn.v[oc] + o.bn.eps)) * o.bn.g[oc] + o.bn.b[oc];
          const idx = y.length;
          if (o.res) s += o.res[idx];
          if (o.relu) s = Math.max(0, s);
          y.push(s);
        }
  return { shape: [B, O, OH, OW], y };
}

const posVar = (n: number, seed: number) => Float32Array.from(randn(n, seed), (v) => 0.5 + Math.abs(v));

test('conv2d: strides, dilation, asymmetric (TF same) padding, bias, standardisation (both eras), folded BatchNorm, residual, relu', (t) => {
  const cases: { name: string; x: number[]; w: number[]; o: Partial<ConvRef>; bn?: boolean; res?: boolean }[] = [
    { name: 'stem 7x7/2 same, ws legacy', x: [2, 3, 19, 22], w: [5, 3, 7, 7], o: { stride: 2, ws: 1, wsEps: 1e-5 } },
    { name: '3x3/2 same, ws modern, relu', x: [1, 6, 9, 8], w: [7, 6, 3, 3], o: { stride: 2, ws: 2, wsEps: 1e-8, relu: true } },
    { name: '1x1, bias', x: [3, 10, 5, 7], w: [4, 10, 1, 1], o: { bias: [] } },
    { name: '1x1/2 + bn', x: [2, 8, 7, 7], w: [6, 8, 1, 1], o: { stride: 2 }, bn: true },
    { name: '3x3 pad 1 + bn + residual + relu', x: [2, 4, 6, 5], w: [4, 4, 3, 3], o: { pad: [1, 1, 1, 1], relu: true }, bn: true, res: true },
    { name: '3x3 dilation 2, bias + bn', x: [1, 3, 11, 9], w: [5, 3, 3, 3], o: { dilation: 2, pad: [2, 2, 2, 2], bias: [] }, bn: true },
  ];
  let seed = 1;
  for (const c of cases) {
    const [B, C, H, W] = c.x;
    const [O, , kh] = c.w;
    const o: ConvRef = { stride: 1, dilation: 1, pad: [0, 0, 0, 0], ...c.o } as ConvRef;
    if (!c.o.pad) {
      const [pt, pb] = samePadding(H, kh, o.stride, o.dilation);
      const [pl, pr] = samePadding(W, kh, o.stride, o.dilation);
      o.pad = [pt, pl, pb, pr];
    }
    const x = randn(B * C * H * W, seed++);
    const w = randn(O * C * kh * kh, seed++, 0.3);
    const weights: Record<string, [number[], Float32Array]> = { 'c.weight': [c.w, w] };
    const roles: OpWeights['conv2d'] = { weight: 'c.weight' };
    if (o.bias) {
      const b = randn(O, seed++);
      o.bias = b;
      weights['c.bias'] = [[O], b];
      roles.bias = 'c.bias';
    }
    if (c.bn) {
      const bn = { g: randn(O, seed++), b: randn(O, seed++), m: randn(O, seed++, 0.1), v: posVar(O, seed++), eps: 1e-5 };
      o.bn = bn;
      Object.assign(weights, { 'bn.weight': [[O], bn.g], 'bn.bias': [[O], bn.b], 'bn.running_mean': [[O], bn.m], 'bn.running_var': [[O], bn.v] });
      Object.assign(roles, { bn_weight: 'bn.weight', bn_bias: 'bn.bias', bn_mean: 'bn.running_mean', bn_var: 'bn.running_var' });
    }
    const shape = convRef(x, c.x, w, c.w, o).shape;
    const res = c.res ? randn(shape.reduce((a, b) => a * b, 1), seed++) : undefined;
    o.res = res;
    const want = convRef(x, c.x, w, c.w, o);
    const s = store(weights);
    const feeds: [number[], Float32Array][] = [[c.x, x]];
    if (res) feeds.push([shape, res]);
    const attrs: Record<string, number> = { stride: o.stride, dilation: o.dilation, pad_t: o.pad[0], pad_l: o.pad[1], pad_b: o.pad[2], pad_r: o.pad[3], act: o.relu ? 1 : 0 };
    if (o.ws) Object.assign(attrs, { ws: o.ws, ws_eps: o.wsEps });
    if (o.bn) attrs.bn_eps = 1e-5;
    for (const threads of [1, 2]) {
      const got = run(s, (g, ins) => g.op('conv2d', 'c', ins, shape, { weights: roles, attrs }), feeds, threads);
      near(t, got, want.shape, want.y, `${c.name} (${threads} threads)`);
    }
    s.dispose();
  }
});

function groupNormRef(x: Arr, [B, C, ...rest]: number[], G: number, g: Arr, b: Arr, eps: number, res?: Arr, relu = false): number[] {
  const S = rest.reduce((a, v) => a * v, 1);
  const cg = C / G;
  const y = new Array<number>(x.length);
  for (let bi = 0; bi < B; bi++)
    for (let gi = 0; gi < G; gi++) {
      const off = (bi * C + gi * cg) * S;
      let m = 0;
      for (let i = 0; i < cg * S; i++) m += x[off + i];
      m /= cg * S;
      let v = 0;
      for (let i = 0; i < cg * S; i++) v += (x[off + i] - m) ** 2;
      v /= cg * S;
      for (let i = 0; i < cg * S; i++) {
        const c = gi * cg + Math.floor(i / S);
        let o = ((x[off + i] - m) / Math.sqrt(v + eps)) * g[c] + b[c];
        if (res) o += res[off + i];
        y[off + i] = relu ? Math.max(0, o) : o;
      }
    }
  return y;
}

test('group_norm: groups, eps, fused residual and relu; relu', (t) => {
  for (const [shape, G, withRes, relu] of [[[2, 12, 5, 3], 4, false, true], [[1, 8, 7, 7], 8, true, true], [[3, 6, 4, 1], 1, true, false], [[2, 32, 3, 3], 32, false, false]] as const) {
    const n = (shape as readonly number[]).reduce((a, b) => a * b, 1);
    const C = shape[1];
    const x = randn(n, 7, 3);
    const g = randn(C, 8);
    const b = randn(C, 9);
    const res = withRes ? randn(n, 10) : undefined;
    const s = store({ 'n.weight': [[C], g], 'n.bias': [[C], b] });
    const feeds: [number[], Float32Array][] = [[[...shape], x]];
    if (res) feeds.push([[...shape], res]);
    const got = run(s, (gb, ins) => gb.op('group_norm', 'n', ins, shape, { weights: { weight: 'n.weight', bias: 'n.bias' }, attrs: { groups: G, eps: 1e-5, act: relu ? 1 : 0 } }), feeds);
    near(t, got, [...shape], groupNormRef(x, [...shape], G, g, b, 1e-5, res, relu), `group_norm ${shape} G=${G}`);
    s.dispose();
  }
  const x = randn(37, 3);
  const got = run(store({}), (g, [i]) => g.op('relu', 'r', [i], [37]), [[[37], x]]);
  near(t, got, [37], Array.from(x, (v) => Math.max(0, v)), 'relu', 0);
});

function poolRef(x: Arr, [B, C, H, W]: number[], k: number, s: number, [pt, pl, pb, pr]: number[], max: boolean, ceil: boolean) {
  const out = (n: number, p0: number, p1: number) => {
    const span = n + p0 + p1 - k;
    let o = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
    if (ceil && (o - 1) * s >= n + p0) o--;
    return o;
  };
  const OH = out(H, pt, pb);
  const OW = out(W, pl, pr);
  const y: number[] = [];
  for (let p = 0; p < B * C; p++)
    for (let i = 0; i < OH; i++)
      for (let j = 0; j < OW; j++) {
        let acc = max ? -Infinity : 0;
        let cnt = 0;
        for (let u = 0; u < k; u++)
          for (let v = 0; v < k; v++) {
            const yi = i * s - pt + u;
            const xj = j * s - pl + v;
            if (yi < 0 || yi >= H || xj < 0 || xj >= W) continue; // max: -inf padding; avg: count_include_pad=False
            const val = x[(p * H + yi) * W + xj];
            acc = max ? Math.max(acc, val) : acc + val;
            cnt++;
          }
        y.push(max ? acc : acc / cnt);
      }
  return { shape: [B, C, OH, OW], y };
}

test("max_pool2d ('same' and pad 1, -inf padding) and avg_pool2d (ceil_mode, count_include_pad=False)", (t) => {
  const cases: [number[], number, number, 'same' | number, boolean, boolean][] = [
    [[2, 3, 16, 16], 3, 2, 'same', true, false],
    [[1, 4, 9, 12], 3, 2, 'same', true, false],
    [[2, 2, 7, 7], 3, 2, 1, true, false],
    [[2, 3, 7, 9], 2, 2, 0, false, true],
    [[1, 2, 8, 8], 2, 2, 0, false, true],
    [[1, 2, 5, 6], 3, 2, 1, false, true],
  ];
  for (const [shape, k, s, pad, max, ceil] of cases) {
    const [pt, pb] = pad === 'same' ? samePadding(shape[2], k, s) : [pad, pad];
    const [pl, pr] = pad === 'same' ? samePadding(shape[3], k, s) : [pad, pad];
    // all-negative input: a padded zero would win a max, -inf padding does not
    const x = Float32Array.from(randn(shape.reduce((a, b) => a * b, 1), 5), (v) => (max ? -1 - Math.abs(v) : v));
    const want = poolRef(x, shape, k, s, [pt, pl, pb, pr], max, ceil);
    const got = run(store({}), (g, [i]) => g.op(max ? 'max_pool2d' : 'avg_pool2d', 'p', [i], want.shape, {
      attrs: { kernel: k, stride: s, pad_t: pt, pad_l: pl, pad_b: pb, pad_r: pr, ceil_mode: ceil ? 1 : 0 },
    }), [[shape, x]]);
    near(t, got, want.shape, want.y, `${max ? 'max' : 'avg'} ${shape} k${k}/${s} pad ${pad}${ceil ? ' ceil' : ''}`);
  }
});

test("timm 'same' padding: spec §1.5's values at 224 and 384", (t) => {
  for (const size of [224, 384]) {
    t.deepEqual(samePadding(size, 7, 2), [2, 3]); // stem conv
    t.deepEqual(samePadding(size / 2, 3, 2), [0, 1]); // stem pool
    t.deepEqual(samePadding(size / 4, 3, 2), [0, 1]); // stages.1 conv2
    t.deepEqual(samePadding(size / 4, 1, 2), [0, 0]); // 1x1/2 downsample
    t.deepEqual(samePadding(size / 4, 3, 1), [1, 1]); // stride 1: static symmetric
  }
});

test('conv2d shape rule rejects a misfit weight and a half-specified BatchNorm', (t) => {
  const s = store({ 'c.weight': [[4, 3, 3, 3], randn(108, 1)], 'bn.weight': [[4], randn(4, 2)] });
  const mk = (weights: OpWeights['conv2d'], inShape: number[]) => () => {
    const g = new GraphBuilder();
    g.output('y', g.op('conv2d', 'c', [g.input(inShape)], [1, 4, 3, 3], { weights }));
    return new binding.Program(g.spec(), s, { device: 'cpu' });
  };
  t.throws(mk({ weight: 'c.weight' }, [1, 2, 5, 5]), { code: 'VIT_E_SHAPE' });
  t.throws(mk({ weight: 'c.weight', bn_weight: 'bn.weight' }, [1, 3, 5, 5]), { code: 'VIT_E_SHAPE' });
  const ok = mk({ weight: 'c.weight' }, [1, 3, 5, 5])();
  ok.dispose();
  s.dispose();
});
