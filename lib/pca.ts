// "A picture of what the model sees": the first three principal components of an image's patch features as an
// RGB image (the DINO picture). Per image, in float64: covariance of the h*w patch vectors (D x D), its top
// eigenvectors by subspace iteration with Rayleigh-Ritz (a small Jacobi eigensolver), each patch projected on them,
// each component min-max scaled to 0..255. Signs are fixed (each component's largest-magnitude loading is made
// positive), so the picture is stable from run to run. No dependency beyond sharp (for writePcaImage only).
import { VitError } from './errors.ts';
import { Tensor } from './tensor.ts';
import { decodeImage, type ImageInput } from './preprocess/decode.ts';

/** One image's PCA map: packed RGB uint8, row-major [height, width, 3] (usable as RawPixels). */
export interface PcaImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 3;
  /** Variance along each of the three components (eigenvalues of the patch covariance), largest first. */
  variances: number[];
  /** The unit principal directions [3][D], signs fixed (largest-magnitude loading positive). */
  components: Float64Array[];
}

export interface PcaOptions {
  /** Subspace iteration cap (default 100; well-separated leading components converge in a few dozen, a flat spectrum stops here). */
  maxIter?: number;
  /** Residual tolerance ||C v - l v|| <= tol * l1 (default 1e-7, far below what an 8-bit picture shows). */
  tol?: number;
}

const K = 3;

/** First three principal components of each image's patch vectors, as RGB maps. `features`: [N, D, h, w] (NCHW,
 *  e.g. one map of `model.features(...)`) or [D, h, w] for one image. */
export function pcaRgb(features: Tensor, opts: PcaOptions = {}): PcaImage[] {
  if (!(features instanceof Tensor)) throw new VitError('VIT_E_ARGUMENT', 'pcaRgb expects a Tensor [N, D, h, w]');
  const s = features.shape.length === 3 ? [1, ...features.shape] : features.shape;
  if (s.length !== 4) throw new VitError('VIT_E_SHAPE', `pcaRgb expects NCHW features [N, D, h, w], got [${features.shape.join(', ')}]`);
  const [N, D, h, w] = s;
  const P = h * w;
  if (P < 2 || D < 1) throw new VitError('VIT_E_SHAPE', `pcaRgb needs at least 2 patches and 1 channel, got [${features.shape.join(', ')}]`);
  const out: PcaImage[] = [];
  for (let n = 0; n < N; n++) out.push(pcaOne(features.data.subarray(n * D * P, (n + 1) * D * P), D, h, w, opts));
  return out;
}

function pcaOne(x: Float32Array, D: number, h: number, w: number, opts: PcaOptions): PcaImage {
  const P = h * w;
  // centered patch vectors, X[p * D + d] (x is channel-major: x[d * P + p])
  const X = new Float64Array(P * D);
  for (let d = 0; d < D; d++) {
    let m = 0;
    for (let p = 0; p < P; p++) m += x[d * P + p];
    m /= P;
    for (let p = 0; p < P; p++) X[p * D + d] = x[d * P + p] - m;
  }
  let values: number[];
  let vectors: Float64Array[];
  if (P >= D) {
    // covariance C = X^T X / (P - 1) (D x D)
    ({ values, vectors } = topEigen(gram(X, P, D, true), D, Math.min(K, D), opts));
  } else {
    // fewer patches than channels: the P x P Gram matrix X X^T / (P - 1) has the same nonzero eigenvalues, and
    // its eigenvectors u map to the principal directions X^T u
    ({ values, vectors } = topEigen(gram(X, P, D, false), P, Math.min(K, P), opts));
    vectors = vectors.map((u) => {
      const v = new Float64Array(D);
      for (let p = 0; p < P; p++) {
        const c = u[p];
        const row = p * D;
        for (let i = 0; i < D; i++) v[i] += c * X[row + i];
      }
      return normalize(v, D);
    });
  }
  while (values.length < K) values.push(0);
  // sign rule: the largest-magnitude loading of each component is positive
  for (const v of vectors) {
    let best = 0;
    for (let i = 1; i < D; i++) if (Math.abs(v[i]) > Math.abs(v[best]) + 1e-12) best = i;
    if (v[best] < 0) for (let i = 0; i < D; i++) v[i] = -v[i];
  }
  const data = new Uint8Array(P * 3);
  const score = new Float64Array(P);
  for (let k = 0; k < K; k++) {
    const v = vectors[k];
    if (!v) continue; // D < 3: that channel stays 0
    let lo = Infinity;
    let hi = -Infinity;
    for (let p = 0; p < P; p++) {
      let acc = 0;
      const row = p * D;
      for (let i = 0; i < D; i++) acc += X[row + i] * v[i];
      score[p] = acc;
      if (acc < lo) lo = acc;
      if (acc > hi) hi = acc;
    }
    const range = hi - lo;
    // a component with no spread of its own (rank < 3: float32 rounding noise only) is a flat 0
    const ok = range > 0 && values[k] > 1e-9 * values[0];
    for (let p = 0; p < P; p++) data[p * 3 + k] = ok ? Math.round((255 * (score[p] - lo)) / range) : 0;
  }
  return { data, width: w, height: h, channels: 3, variances: values.slice(0, K), components: vectors };
}

/** X^T X / (P - 1) (D x D) when `cov`, else X X^T / (P - 1) (P x P); X is [P, D] row-major. */
function gram(X: Float64Array, P: number, D: number, cov: boolean): Float64Array {
  if (cov) {
    // channel-major copy: each entry is a dot product of two contiguous P-vectors
    const Xt = new Float64Array(P * D);
    for (let p = 0; p < P; p++) for (let i = 0; i < D; i++) Xt[i * P + p] = X[p * D + i];
    const C = new Float64Array(D * D);
    for (let i = 0; i < D; i++) {
      const oi = i * P;
      for (let j = i; j < D; j++) {
        const oj = j * P;
        C[i * D + j] = C[j * D + i] = dotAt(Xt, oi, Xt, oj, P) / (P - 1);
      }
    }
    return C;
  }
  const G = new Float64Array(P * P);
  for (let a = 0; a < P; a++) {
    for (let b = a; b < P; b++) {
      let acc = 0;
      for (let i = 0; i < D; i++) acc += X[a * D + i] * X[b * D + i];
      G[a * P + b] = G[b * P + a] = acc / (P - 1);
    }
  }
  return G;
}

/** Top-k eigenpairs of the symmetric positive semi-definite n x n matrix C: subspace iteration on a block of
 *  b = min(n, k + 9) vectors with Rayleigh-Ritz each step. Deterministic (fixed pseudo-random start). */
export function topEigen(C: Float64Array, n: number, k: number, opts: PcaOptions = {}): { values: number[]; vectors: Float64Array[] } {
  const b = Math.min(n, k + 9);
  const maxIter = opts.maxIter ?? 100;
  const tol = opts.tol ?? 1e-7;
  let seed = 0x2545f491;
  const rand = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32 - 0.5;
  };
  let Q: Float64Array[] = Array.from({ length: b }, () => Float64Array.from({ length: n }, rand));
  Q = orthonormalize(Q, n, rand);
  let values: number[] = [];
  let vectors: Float64Array[] = [];
  for (let it = 0; it < maxIter; it++) {
    const Z = Q.map((q) => matvec(C, q, n));
    // Rayleigh-Ritz: T = Q^T C Q (b x b), T = W diag(theta) W^T
    const T = new Float64Array(b * b);
    for (let i = 0; i < b; i++) for (let j = i; j < b; j++) T[i * b + j] = T[j * b + i] = dot(Q[i], Z[j], n);
    const { values: theta, vectors: W } = jacobiEigen(T, b);
    const order = theta.map((_, i) => i).sort((a, c) => theta[c] - theta[a]);
    vectors = [];
    values = [];
    let worst = 0;
    const scale = Math.max(Math.abs(theta[order[0]]), Number.MIN_VALUE);
    for (let r = 0; r < b; r++) {
      const col = order[r];
      const v = new Float64Array(n);
      const cv = new Float64Array(n);
      for (let j = 0; j < b; j++) {
        const wj = W[j * b + col];
        if (wj === 0) continue;
        const q = Q[j];
        const z = Z[j];
        for (let i = 0; i < n; i++) {
          v[i] += wj * q[i];
          cv[i] += wj * z[i];
        }
      }
      if (r < k) {
        let res = 0;
        for (let i = 0; i < n; i++) res += (cv[i] - theta[col] * v[i]) ** 2;
        worst = Math.max(worst, Math.sqrt(res) / scale);
        values.push(theta[col]);
        vectors.push(v);
      }
      // the next block: C applied to the Ritz vectors (sorted), re-orthonormalized
      Q[r] = cv;
    }
    if (worst <= tol || b === n) break;
    Q = orthonormalize(Q, n, rand);
  }
  return { values, vectors: vectors.map((v) => normalize(v, n)) };
}

function matvec(C: Float64Array, q: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = dotAt(C, i * n, q, 0, n);
  return out;
}

/** sum_k a[ao + k] * b[bo + k] over n terms, with four accumulators: the add latency, not the multiplies, bounds a
 *  single-sum loop. */
function dotAt(a: Float64Array, ao: number, b: Float64Array, bo: number, n: number): number {
  let a0 = 0;
  let a1 = 0;
  let a2 = 0;
  let a3 = 0;
  let k = 0;
  for (; k + 3 < n; k += 4) {
    a0 += a[ao + k] * b[bo + k];
    a1 += a[ao + k + 1] * b[bo + k + 1];
    a2 += a[ao + k + 2] * b[bo + k + 2];
    a3 += a[ao + k + 3] * b[bo + k + 3];
  }
  for (; k < n; k++) a0 += a[ao + k] * b[bo + k];
  return a0 + a1 + a2 + a3;
}

function dot(a: Float64Array, b: Float64Array, n: number): number {
  let acc = 0;
  for (let i = 0; i < n; i++) acc += a[i] * b[i];
  return acc;
}

function normalize(v: Float64Array, n: number): Float64Array {
  const norm = Math.sqrt(dot(v, v, n));
  if (norm > 0) for (let i = 0; i < n; i++) v[i] /= norm;
  return v;
}

/** Modified Gram-Schmidt, twice; a vector that vanishes (rank-deficient C) is replaced by a fresh random one. */
function orthonormalize(Q: Float64Array[], n: number, rand: () => number): Float64Array[] {
  const out: Float64Array[] = [];
  for (let q of Q) {
    for (let attempt = 0; ; attempt++) {
      const before = Math.sqrt(dot(q, q, n));
      for (let pass = 0; pass < 2; pass++) {
        for (const u of out) {
          const c = dot(u, q, n);
          for (let i = 0; i < n; i++) q[i] -= c * u[i];
        }
      }
      const after = Math.sqrt(dot(q, q, n));
      if (after > 1e-10 * Math.max(before, 1e-300) && after > 1e-300) {
        for (let i = 0; i < n; i++) q[i] /= after;
        break;
      }
      if (attempt > 8) throw new VitError('VIT_E_INTERNAL', 'pca: could not orthonormalize the iteration block');
      q = Float64Array.from({ length: n }, rand);
    }
    out.push(q);
  }
  return out;
}

/** Cyclic Jacobi eigensolver for a small symmetric matrix A (n x n, row-major; not modified). Returns the
 *  eigenvalues and the eigenvectors as the columns of V (row-major n x n). */
export function jacobiEigen(A0: Float64Array, n: number): { values: number[]; vectors: Float64Array } {
  const A = Float64Array.from(A0);
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let diag = 0;
    for (let i = 0; i < n; i++) {
      diag += A[i * n + i] ** 2;
      for (let j = i + 1; j < n; j++) off += A[i * n + j] ** 2;
    }
    if (off <= 1e-30 * Math.max(diag, Number.MIN_VALUE)) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q];
        if (apq === 0) continue;
        const app = A[p * n + p];
        const aqq = A[q * n + q];
        const tau = (aqq - app) / (2 * apq);
        const t = Math.sign(tau || 1) / (Math.abs(tau) + Math.sqrt(1 + tau * tau));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = t * c;
        for (let r = 0; r < n; r++) {
          const arp = A[r * n + p];
          const arq = A[r * n + q];
          A[r * n + p] = c * arp - s * arq;
          A[r * n + q] = s * arp + c * arq;
        }
        for (let r = 0; r < n; r++) {
          const apr = A[p * n + r];
          const aqr = A[q * n + r];
          A[p * n + r] = c * apr - s * aqr;
          A[q * n + r] = s * apr + c * aqr;
        }
        for (let r = 0; r < n; r++) {
          const vrp = V[r * n + p];
          const vrq = V[r * n + q];
          V[r * n + p] = c * vrp - s * vrq;
          V[r * n + q] = s * vrp + c * vrq;
        }
      }
    }
  }
  return { values: Array.from({ length: n }, (_, i) => A[i * n + i]), vectors: V };
}

export interface WritePcaImageOptions {
  /** Integer upscale of the whole picture (nearest neighbour), e.g. 4 for small inputs. Default 1. */
  scale?: number;
}

/** Writes a PNG: the input image (decoded as RGB, at its own size) on the left, the PCA map resized to the same
 *  size with nearest neighbour on the right; [height * scale, 2 * width * scale, 3]. Returns that size. The PCA map
 *  covers what the model saw: the preprocessed (resized / center-cropped) view of the input. */
export async function writePcaImage(path: string, input: ImageInput, pca: PcaImage, opts: WritePcaImageOptions = {}): Promise<{ width: number; height: number }> {
  const scale = opts.scale ?? 1;
  if (!Number.isInteger(scale) || scale < 1 || scale > 64) throw new VitError('VIT_E_ARGUMENT', `scale must be an integer 1..64, got ${scale}`);
  const sharp = (await import('sharp')).default;
  const img = await decodeImage(input);
  const W = img.width * scale;
  const H = img.height * scale;
  const raw = (data: Uint8Array, width: number, height: number) => sharp(Buffer.from(data.buffer, data.byteOffset, data.byteLength), { raw: { width, height, channels: 3 } });
  const left = await raw(img.data, img.width, img.height).resize(W, H, { kernel: 'nearest', fit: 'fill' }).raw().toBuffer();
  const right = await raw(pca.data, pca.width, pca.height).resize(W, H, { kernel: 'nearest', fit: 'fill' }).raw().toBuffer();
  const out = Buffer.alloc(2 * W * H * 3);
  for (let y = 0; y < H; y++) {
    left.copy(out, y * 2 * W * 3, y * W * 3, (y + 1) * W * 3);
    right.copy(out, (y * 2 + 1) * W * 3, y * W * 3, (y + 1) * W * 3);
  }
  try {
    await sharp(out, { raw: { width: 2 * W, height: H, channels: 3 } }).png().toFile(path);
  } catch (err) {
    throw new VitError('VIT_E_IO', `cannot write ${path}: ${(err as Error).message}`, { cause: err });
  }
  return { width: 2 * W, height: H };
}
