// float64 references for the per-op tests (not a test file: ava only runs *.test.ts).
type Arr = ArrayLike<number>;

export function erf(x: number): number {
  if (Math.abs(x) > 5) return Math.sign(x);
  let sum = 0;
  let term = x;
  for (let n = 0; n < 200; n++) {
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < 1e-17) break;
    term *= (-x * x) / (n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}
export const gelu = (v: number) => 0.5 * v * (1 + erf(v / Math.SQRT2));
/** timm's 'gelu_tanh' (PyTorch GELU(approximate='tanh')) */
export const geluTanh = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** The act codes of vit/act.h: 0 none, 1 gelu, 2 tanh, 3 gelu_tanh, 4 quick_gelu, 5 silu, 6 relu, 7 sigmoid. */
export const ACTS: ((v: number) => number)[] = [
  (v) => v,
  gelu,
  Math.tanh,
  geluTanh,
  (v) => v * sigmoid(1.702 * v),
  (v) => v * sigmoid(v),
  (v) => Math.max(v, 0),
  sigmoid,
];

export function softmaxRow(v: number[]): number[] {
  const m = Math.max(...v);
  const e = v.map((a) => Math.exp(a - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((a) => a / s);
}

/** LayerNorm (b given or not) or, with rms, timm's RmsNorm over each row of d elements of x starting at off. */
export function normRow(x: Arr, off: number, d: number, w: Arr, b: Arr | null, eps: number, rms = false): number[] {
  let m = 0;
  if (!rms) {
    for (let j = 0; j < d; j++) m += x[off + j];
    m /= d;
  }
  let v = 0;
  for (let j = 0; j < d; j++) v += (x[off + j] - m) ** 2;
  v /= d;
  const out: number[] = [];
  for (let j = 0; j < d; j++) out.push(((x[off + j] - m) / Math.sqrt(v + eps)) * w[j] + (b ? b[j] : 0));
  return out;
}

export function layerNormRef(x: Arr, d: number, w: Arr, b: Arr | null, eps: number, rms = false): number[] {
  const out: number[] = [];
  for (let r = 0; r < x.length / d; r++) out.push(...normRow(x, r * d, d, w, b, eps, rms));
  return out;
}

/** Element (item, row, head, column) of q, k or v. */
export type At = (bi: number, row: number, h: number, c: number) => number;

/** Multi-head attention: out[B, Q, D] = softmax(q k^T * scale) v per head over T keys. */
export function attentionRef(q: At, k: At, v: At, b: number, nq: number, t: number, d: number, heads: number, scale: number): number[] {
  const hd = d / heads;
  const out = new Array(b * nq * d).fill(0);
  for (let bi = 0; bi < b; bi++)
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < nq; i++) {
        const s: number[] = [];
        for (let j = 0; j < t; j++) {
          let dot = 0;
          for (let c = 0; c < hd; c++) dot += q(bi, i, h, c) * k(bi, j, h, c);
          s.push(dot * scale);
        }
        const p = softmaxRow(s);
        for (let c = 0; c < hd; c++) {
          let acc = 0;
          for (let j = 0; j < t; j++) acc += p[j] * v(bi, j, h, c);
          out[(bi * nq + i) * d + h * hd + c] = acc;
        }
      }
  return out;
}

/** Accessor for head h of a [B?, N, width] tensor whose section starts at column `col`; batch 1 broadcasts. */
export function heads(x: Arr, batch: number, n: number, width: number, col: number, hd: number): At {
  return (bi, row, h, c) => x[((batch === 1 ? 0 : bi) * n + row) * width + col + h * hd + c];
}
