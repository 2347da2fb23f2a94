// Pillow's image resize (libImaging/Resample.c), reproduced bit for bit on 8-bit images: separable, support-scaled
// convolution filters (antialiased when shrinking), horizontal pass first, each pass rounded and clipped to uint8
// with 22-bit fixed-point coefficients, exactly as PIL does for mode RGB / L. NEAREST follows PIL's affine path.
// This is what timm's eval transform runs (torchvision Resize on a PIL image calls Image.resize).
import { VitError } from '../errors.ts';

export type Interpolation = 'nearest' | 'box' | 'bilinear' | 'hamming' | 'bicubic' | 'lanczos';

/** A packed 8-bit image, `channels` interleaved values per pixel, row-major. */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

interface Filter {
  support: number;
  fn: (x: number) => number;
}

function sinc(x: number): number {
  if (x === 0) return 1;
  x *= Math.PI;
  return Math.sin(x) / x;
}

const F054 = Math.fround(0.54);
const F046 = Math.fround(0.46);

const FILTERS: Record<Exclude<Interpolation, 'nearest'>, Filter> = {
  box: { support: 0.5, fn: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  bilinear: { support: 1, fn: (x) => { x = Math.abs(x); return x < 1 ? 1 - x : 0; } },
  hamming: {
    support: 1,
    fn: (x) => {
      x = Math.abs(x);
      if (x === 0) return 1;
      if (x >= 1) return 0;
      x *= Math.PI;
      return (Math.sin(x) / x) * (F054 + F046 * Math.cos(x)); // PIL uses float literals 0.54f, 0.46f
    },
  },
  bicubic: {
    support: 2,
    fn: (x) => {
      const a = -0.5;
      x = Math.abs(x);
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
  lanczos: { support: 3, fn: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);
const CLIP_HI = ONE * 256; // 1 << PRECISION_BITS << 8

interface Coeffs {
  ksize: number;
  bounds: Int32Array; // [xmin, count] per output
  kk: Int32Array; // fixed-point coefficients, ksize per output
}

/** precompute_coeffs + normalize_coeffs_8bpc. */
function coeffs(inSize: number, outSize: number, filter: Filter): Coeffs {
  const in0 = 0;
  const in1 = inSize;
  const scale = (in1 - in0) / outSize;
  const filterscale = scale < 1 ? 1 : scale;
  const support = filter.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = in0 + (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = filter.fn((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0 ? k[x] / ww : k[x];
      kk[xx * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * ONE) : Math.trunc(0.5 + v * ONE);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

function clip8(v: number): number {
  if (v >= CLIP_HI) return 255;
  if (v <= 0) return 0;
  return v >> PRECISION_BITS;
}

function horizontal(src: RawImage, outW: number, rowFirst: number, rows: number, c: Coeffs): RawImage {
  const C = src.channels;
  const out = new Uint8Array(outW * rows * C);
  const { ksize, bounds, kk } = c;
  const inStride = src.width * C;
  const s = src.data;
  for (let y = 0; y < rows; y++) {
    const rowIn = (y + rowFirst) * inStride;
    const rowOut = y * outW * C;
    for (let xx = 0; xx < outW; xx++) {
      const xmin = bounds[xx * 2];
      const n = bounds[xx * 2 + 1];
      const kb = xx * ksize;
      if (C === 3) {
        let s0 = HALF;
        let s1 = HALF;
        let s2 = HALF;
        let p = rowIn + xmin * 3;
        for (let x = 0; x < n; x++, p += 3) {
          const k = kk[kb + x];
          s0 += s[p] * k;
          s1 += s[p + 1] * k;
          s2 += s[p + 2] * k;
        }
        const o = rowOut + xx * 3;
        out[o] = clip8(s0);
        out[o + 1] = clip8(s1);
        out[o + 2] = clip8(s2);
        continue;
      }
      for (let ch = 0; ch < C; ch++) {
        let ss = HALF;
        let p = rowIn + xmin * C + ch;
        for (let x = 0; x < n; x++, p += C) ss += s[p] * kk[kb + x];
        out[rowOut + xx * C + ch] = clip8(ss);
      }
    }
  }
  return { data: out, width: outW, height: rows, channels: C };
}

function vertical(src: RawImage, outH: number, c: Coeffs, shift: number): RawImage {
  const C = src.channels;
  const W = src.width;
  const stride = W * C;
  const out = new Uint8Array(outH * stride);
  const { ksize, bounds, kk } = c;
  const s = src.data;
  const acc = new Float64Array(stride);
  for (let yy = 0; yy < outH; yy++) {
    const ymin = bounds[yy * 2] - shift;
    const n = bounds[yy * 2 + 1];
    const kb = yy * ksize;
    const rowOut = yy * stride;
    // Row-wise accumulation (cache friendly); the sums are exact integers, as PIL's INT32 ones.
    acc.fill(HALF);
    for (let y = 0; y < n; y++) {
      const k = kk[kb + y];
      const p = (ymin + y) * stride;
      for (let i = 0; i < stride; i++) acc[i] += s[p + i] * k;
    }
    for (let i = 0; i < stride; i++) out[rowOut + i] = clip8(acc[i]);
  }
  return { data: out, width: W, height: outH, channels: C };
}

/** PIL Image.resize((outW, outH), resample) for an 8-bit image. */
export function resize(img: RawImage, outW: number, outH: number, interpolation: Interpolation): RawImage {
  if (!Number.isInteger(outW) || !Number.isInteger(outH) || outW < 1 || outH < 1) {
    throw new VitError('VIT_E_ARGUMENT', `cannot resize to ${outW}x${outH}`);
  }
  if (outW === img.width && outH === img.height) return { ...img, data: img.data.slice() };
  if (interpolation === 'nearest') return nearest(img, outW, outH);
  const filter = FILTERS[interpolation];
  if (!filter) throw new VitError('VIT_E_ARGUMENT', `unknown interpolation '${interpolation}'`);
  const needH = outW !== img.width;
  const needV = outH !== img.height;
  const ch = coeffs(img.width, outW, filter);
  const cv = coeffs(img.height, outH, filter);
  let cur = img;
  let shift = 0;
  if (needH) {
    // Only the source rows the vertical pass reads (PIL's ybox_first / ybox_last).
    const first = needV ? cv.bounds[0] : 0;
    const last = needV ? cv.bounds[outH * 2 - 2] + cv.bounds[outH * 2 - 1] : img.height;
    cur = horizontal(img, outW, first, last - first, ch);
    shift = first;
  }
  if (needV) cur = vertical(cur, outH, cv, shift);
  return cur;
}

/** PIL's NEAREST resize (affine transform, pixel centres). */
function nearest(img: RawImage, outW: number, outH: number): RawImage {
  const C = img.channels;
  const out = new Uint8Array(outW * outH * C);
  const sx = img.width / outW;
  const sy = img.height / outH;
  const xs = new Int32Array(outW);
  for (let x = 0; x < outW; x++) xs[x] = Math.min(img.width - 1, Math.trunc((x + 0.5) * sx));
  for (let y = 0; y < outH; y++) {
    const yi = Math.min(img.height - 1, Math.trunc((y + 0.5) * sy));
    for (let x = 0; x < outW; x++) {
      const o = (y * outW + x) * C;
      const i = (yi * img.width + xs[x]) * C;
      for (let c = 0; c < C; c++) out[o + c] = img.data[i + c];
    }
  }
  return { data: out, width: outW, height: outH, channels: C };
}
