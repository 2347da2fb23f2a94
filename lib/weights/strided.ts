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
  if (n === 0) return Buffer.alloc(0);
  const nd = v.shape.length;
  if (nd === 0 || isContiguous(v)) return Buffer.from(src.subarray((v.offset - base) * es, (v.offset - base + n) * es));
  // element-wise copies through typed arrays (word = 1, 2 or 4 bytes; 8-byte elements as two words)
  const word = es % 4 === 0 ? 4 : es % 2 === 0 ? 2 : 1;
  const per = es / word;
  const aligned = (b: Buffer) => (b.byteOffset % word === 0 ? b : Buffer.from(b));
  const view = (b: Buffer) => {
    const a = aligned(b);
    const arr = word === 4 ? new Uint32Array(a.buffer, a.byteOffset, a.length / 4)
      : word === 2 ? new Uint16Array(a.buffer, a.byteOffset, a.length / 2) : new Uint8Array(a.buffer, a.byteOffset, a.length);
    return { a, arr };
  };
  const { arr: si } = view(src);
  const dst = Buffer.allocUnsafe(n * es);
  const { a: outBuf, arr: so } = view(dst);
  const inner = v.shape[nd - 1];
  const innerStride = v.strides[nd - 1] * per;
  const idx = new Array<number>(nd - 1).fill(0);
  let o = 0;
  let start = (v.offset - base) * per;
  for (;;) {
    if (per === 1) {
      for (let j = 0, p = start; j < inner; j++, p += innerStride) so[o++] = si[p];
    } else {
      for (let j = 0, p = start; j < inner; j++, p += innerStride) for (let w = 0; w < per; w++) so[o++] = si[p + w];
    }
    // odometer over the outer dims
    let d = nd - 2;
    for (; d >= 0; d--) {
      idx[d]++;
      start += v.strides[d] * per;
      if (idx[d] < v.shape[d]) break;
      start -= v.strides[d] * per * v.shape[d];
      idx[d] = 0;
    }
    if (d < 0) break;
  }
  return outBuf;
}

/** Reverses the bytes of each element in place (big-endian .npy data). */
export function byteswap(buf: Buffer, es: number): Buffer {
  if (es === 2) return buf.swap16();
  if (es === 4) return buf.swap32();
  if (es === 8) return buf.swap64();
  return buf;
}
