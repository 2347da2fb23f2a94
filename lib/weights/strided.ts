// Strided views over raw element bytes (torch storages with offset/strides, Fortran-order .npy, JAX transposes):
// the element range a view touches, and materialising it as a contiguous row-major buffer.

export interface View {
  shape: readonly number[];
  /** In elements. */
  strides: readonly number[];
  /** In elements. */
  offset: number;
}

export const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

export function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** Whether the view reads its elements in order from one run (sizes-1 dims may have any stride). */
export function isContiguous(v: View): boolean {
  const c = contiguousStrides(v.shape);
  return v.shape.every((d, i) => d === 1 || v.strides[i] === c[i]);
}

/** [first, last + 1) element index touched by the view; [offset, offset) when it is empty. */
export function span(v: View): [number, number] {
  if (v.shape.some((d) => d === 0)) return [v.offset, v.offset];
  let hi = v.offset;
  for (let i = 0; i < v.shape.length; i++) hi += (v.shape[i] - 1) * v.strides[i];
  return [v.offset, hi + 1];
}

/**
 * Contiguous copy of the view. `src` holds elements [base, base + src.length / es) of the underlying storage;
 * the caller guarantees span(v) lies inside it. Innermost runs with stride 1 are copied as one block.
 */
export function gather(src: Buffer, base: number, v: View, es: number): Buffer {
  const n = numel(v.shape);
  const out = Buffer.allocUnsafe(n * es);
  if (n === 0) return out;
  const nd = v.shape.length;
  if (nd === 0 || isContiguous(v)) {
    src.copy(out, 0, (v.offset - base) * es, (v.offset - base + n) * es);
    return out;
  }
  const inner = v.shape[nd - 1];
  const innerStride = v.strides[nd - 1];
  const idx = new Array<number>(nd - 1).fill(0);
  let o = 0;
  let start = v.offset - base;
  for (;;) {
    if (innerStride === 1) {
      src.copy(out, o, start * es, (start + inner) * es);
      o += inner * es;
    } else {
      for (let j = 0, p = start * es; j < inner; j++, p += innerStride * es) {
        for (let b = 0; b < es; b++) out[o++] = src[p + b];
      }
    }
    // odometer over the outer dims
    let d = nd - 2;
    for (; d >= 0; d--) {
      idx[d]++;
      start += v.strides[d];
      if (idx[d] < v.shape[d]) break;
      start -= v.strides[d] * v.shape[d];
      idx[d] = 0;
    }
    if (d < 0) break;
  }
  return out;
}

/** Reverses the bytes of each element in place (big-endian .npy data). */
export function byteswap(buf: Buffer, es: number): Buffer {
  if (es === 2) return buf.swap16();
  if (es === 4) return buf.swap32();
  if (es === 8) return buf.swap64();
  return buf;
}
