// pcaRgb / writePcaImage / `vitnode features --pca`: the first three principal components of the patch features.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import sharp from 'sharp';
import { pcaRgb, Tensor, writePcaImage } from '../lib/index.ts';
import { jacobiEigen, topEigen } from '../lib/pca.ts';
import { tmpDir, vitnode } from './helpers.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const DIGITS = join(ROOT, 'examples/digits');
const IMG = join(DIGITS, 'images/000_label2.png');

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

function gramSchmidt(vs: Float64Array[]): Float64Array[] {
  const out: Float64Array[] = [];
  for (const v of vs) {
    const q = Float64Array.from(v);
    for (const u of out) {
      let c = 0;
      for (let i = 0; i < q.length; i++) c += u[i] * q[i];
      for (let i = 0; i < q.length; i++) q[i] -= c * u[i];
    }
    let n = 0;
    for (let i = 0; i < q.length; i++) n += q[i] * q[i];
    n = Math.sqrt(n);
    for (let i = 0; i < q.length; i++) q[i] /= n;
    out.push(q);
  }
  return out;
}

function corr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i] / n;
    mb += b[i] / n;
  }
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** A [D, h, w] map whose patches are mean + sum_k a_k[p] u_k + tiny noise: orthonormal directions u_k (D), and
 *  patch coefficient vectors a_k (P) centered, mutually orthogonal, with standard deviations sd[k]. */
function synthetic(D: number, h: number, w: number, sd: number[], seed: number) {
  const P = h * w;
  const r = lcg(seed);
  const u = gramSchmidt(sd.map(() => Float64Array.from({ length: D }, r)));
  const centered = Array.from({ length: sd.length }, () => {
    const a = Float64Array.from({ length: P }, r);
    const m = a.reduce((x, y) => x + y, 0) / P;
    return a.map((x) => x - m);
  });
  const a = gramSchmidt(centered).map((q, k) => q.map((x) => x * sd[k] * Math.sqrt(P - 1)));
  const data = new Float32Array(D * P);
  for (let d = 0; d < D; d++) {
    const mean = 3 * r();
    for (let p = 0; p < P; p++) {
      let v = mean + 1e-4 * r();
      for (let k = 0; k < sd.length; k++) v += a[k][p] * u[k][d];
      data[d * P + p] = v;
    }
  }
  // the sign rule: each direction's largest-magnitude loading positive (flip its scores with it)
  for (let k = 0; k < sd.length; k++) {
    let best = 0;
    for (let i = 1; i < D; i++) if (Math.abs(u[k][i]) > Math.abs(u[k][best])) best = i;
    if (u[k][best] < 0) {
      u[k] = u[k].map((x) => -x);
      a[k] = a[k].map((x) => -x);
    }
  }
  return { data, u, a };
}

test('pcaRgb recovers three known orthogonal directions with distinct variances (signs by the loading rule)', (t) => {
  const D = 48;
  const h = 12;
  const w = 10;
  const sd = [5, 3, 1.5];
  const one = synthetic(D, h, w, sd, 7);
  const two = synthetic(D, h, w, [4, 2.5, 0.7], 99);
  const x = new Float32Array(2 * D * h * w);
  x.set(one.data, 0);
  x.set(two.data, D * h * w);
  const out = pcaRgb(new Tensor(x, [2, D, h, w]));
  t.is(out.length, 2);
  for (const [img, ref, sds] of [[out[0], one, sd], [out[1], two, [4, 2.5, 0.7]]] as const) {
    t.is(img.width, w);
    t.is(img.height, h);
    t.is(img.channels, 3);
    t.is(img.data.length, h * w * 3);
    t.true(img.data instanceof Uint8Array);
    for (let k = 0; k < 3; k++) {
      const ch = Array.from({ length: h * w }, (_, p) => img.data[p * 3 + k]);
      // min-max scaled: each channel spans 0..255
      t.is(Math.min(...ch), 0);
      t.is(Math.max(...ch), 255);
      const c = corr(ch, ref.a[k]);
      t.true(c > 0.999, `image channel ${k}: correlation with component ${k} is ${c}`);
      // the direction itself, with the same sign
      let cos = 0;
      for (let i = 0; i < D; i++) cos += img.components[k][i] * ref.u[k][i];
      t.true(cos > 1 - 1e-6, `direction ${k}: cos ${cos}`);
      t.true(Math.abs(img.variances[k] - sds[k] ** 2) < 1e-3 * sds[0] ** 2, `variance ${k}: ${img.variances[k]} vs ${sds[k] ** 2}`);
    }
  }
  // deterministic, and a single image [D, h, w] gives the same picture as its batch row
  t.deepEqual(pcaRgb(new Tensor(one.data, [D, h, w]))[0].data, out[0].data);
});

test('pcaRgb: more channels than patches, rank-deficient and bad shapes', (t) => {
  // D > P (a ViT-B map on a small image): still exact
  const s = synthetic(200, 5, 6, [2, 1, 0.5], 3);
  const [img] = pcaRgb(new Tensor(s.data, [1, 200, 5, 6]));
  for (let k = 0; k < 3; k++) t.true(corr(Array.from({ length: 30 }, (_, p) => img.data[p * 3 + k]), s.a[k]) > 0.999);
  // rank 1: the second and third channels are flat 0, the first still spans 0..255
  const r = lcg(5);
  const dir = Array.from({ length: 8 }, r);
  const x = new Float32Array(8 * 16);
  for (let p = 0; p < 16; p++) {
    const c = r();
    for (let d = 0; d < 8; d++) x[d * 16 + p] = c * dir[d];
  }
  const [flat] = pcaRgb(new Tensor(x, [1, 8, 4, 4]));
  const chan = (k: number) => Array.from({ length: 16 }, (_, p) => flat.data[p * 3 + k]);
  t.is(Math.max(...chan(0)), 255);
  t.is(Math.min(...chan(0)), 0);
  t.true(chan(1).every((v) => v === 0) && chan(2).every((v) => v === 0));
  t.throws(() => pcaRgb(new Tensor(new Float32Array(6), [1, 6])), { message: /NCHW/ });
  t.throws(() => pcaRgb(new Tensor(new Float32Array(4), [1, 4, 1, 1])), { message: /at least 2 patches/ });
});

test('topEigen / jacobiEigen match a known spectrum', (t) => {
  const n = 30;
  const Q = gramSchmidt(Array.from({ length: n }, () => Float64Array.from({ length: n }, lcg(11))).map((v, i) => v.map((x, j) => x + (i === j ? 2 : 0))));
  const lam = Array.from({ length: n }, (_, i) => 10 / (i + 1));
  const C = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) C[i * n + j] += Q[k][i] * lam[k] * Q[k][j];
  const { values } = topEigen(C, n, 3);
  values.forEach((v, i) => t.true(Math.abs(v - lam[i]) < 1e-8, `eig ${i}: ${v} vs ${lam[i]}`));
  const j = jacobiEigen(C, n);
  const sorted = [...j.values].sort((a, b) => b - a);
  sorted.forEach((v, i) => t.true(Math.abs(v - lam[i]) < 1e-8));
});

test('writePcaImage: the input and the nearest-upscaled map side by side', async (t) => {
  const dir = tmpDir(t);
  const pca = { data: new Uint8Array([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]), width: 2, height: 2, channels: 3 as const, variances: [1, 1, 1], components: [] };
  const input = { data: new Uint8Array(6 * 4 * 3).fill(7), width: 6, height: 4 };
  const path = join(dir, 'p.png');
  t.deepEqual(await writePcaImage(path, input, pca, { scale: 2 }), { width: 24, height: 8 });
  const { data, info } = await sharp(path).raw().toBuffer({ resolveWithObject: true });
  t.deepEqual([info.width, info.height, info.channels], [24, 8, 3]);
  const px = (x: number, y: number) => Array.from(data.subarray((y * 24 + x) * 3, (y * 24 + x) * 3 + 3));
  t.deepEqual(px(0, 0), [7, 7, 7]);
  t.deepEqual(px(12, 0), [255, 0, 0]); // map top-left
  t.deepEqual(px(23, 0), [0, 255, 0]); // map top-right
  t.deepEqual(px(12, 7), [0, 0, 255]); // bottom-left
  t.deepEqual(px(23, 7), [255, 255, 255]);
  await t.throwsAsync(writePcaImage(path, input, pca, { scale: 0 }), { message: /scale/ });
});

test('vitnode features --pca on examples/digits: a PNG twice the input width, and out-<i>.png for several images', async (t) => {
  const dir = tmpDir(t);
  const out = join(dir, 'out.png');
  const r = await vitnode(['features', '--model', DIGITS, '--pca', out, IMG]);
  t.is(r.code, 0, r.stderr);
  const meta = await sharp(IMG).metadata();
  const { info } = await sharp(out).raw().toBuffer({ resolveWithObject: true });
  t.deepEqual([info.width, info.height, info.channels], [2 * meta.width!, meta.height!, 3]);
  t.regex(r.stderr, /PCA of blocks\.3 patch features \(8x8\)/);
  // the left half is the input itself
  const left = await sharp(out).extract({ left: 0, top: 0, width: meta.width!, height: meta.height! }).removeAlpha().raw().toBuffer();
  const orig = await sharp(IMG).removeAlpha().raw().toBuffer();
  t.deepEqual(left, orig);

  const many = join(dir, 'many.png');
  const r2 = await vitnode(['features', '--model', DIGITS, '--pca', many, '--pca-scale', '3', '--output', join(dir, 'f.safetensors'), IMG, join(DIGITS, 'images/001_label8.png')]);
  t.is(r2.code, 0, r2.stderr);
  for (const i of [0, 1]) {
    const m = await sharp(join(dir, `many-${i}.png`)).metadata();
    t.deepEqual([m.width, m.height], [6 * meta.width!, 3 * meta.height!]);
    t.regex(r2.stderr, new RegExp(`many-${i}\\.png`));
  }
  t.true(existsSync(join(dir, 'f.safetensors')));
  const bad = await vitnode(['features', '--model', DIGITS, '--pca', out, '--format', 'NLC', IMG]);
  t.is(bad.code, 2, bad.stderr);
  t.regex(bad.stderr, /--pca needs --format NCHW/);
});
