import { VitError } from './errors.ts';

/** A dense float32 tensor in row-major (NCHW for images) layout. */
export class Tensor {
  readonly data: Float32Array;
  readonly shape: readonly number[];

  constructor(data: Float32Array, shape: readonly number[]) {
    if (!(data instanceof Float32Array)) {
      throw new VitError('VIT_E_DTYPE', `Tensor data must be a Float32Array, got ${describeType(data)}`);
    }
    if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new VitError('VIT_E_SHAPE', `Tensor shape must be non-negative integers, got [${String(shape)}]`);
    }
    const n = shape.reduce((a, b) => a * b, 1);
    if (n !== data.length) {
      throw new VitError('VIT_E_SHAPE', `shape [${shape.join(', ')}] needs ${n} values, data has ${data.length}`);
    }
    this.data = data;
    this.shape = Object.freeze([...shape]);
  }

  static fromFloat32(data: Float32Array, shape: readonly number[]): Tensor {
    return new Tensor(data, shape);
  }

  /** Concatenates tensors along the first axis (an empty list gives an empty tensor of `emptyShape`). */
  static concat(parts: readonly Tensor[], emptyShape: readonly number[] = [0]): Tensor {
    if (parts.length === 0) return new Tensor(new Float32Array(0), emptyShape);
    if (parts.length === 1) return parts[0];
    const data = new Float32Array(parts.reduce((a, p) => a + p.data.length, 0));
    let o = 0;
    for (const p of parts) {
      data.set(p.data, o);
      o += p.data.length;
    }
    return new Tensor(data, [parts.reduce((a, p) => a + p.shape[0], 0), ...parts[0].shape.slice(1)]);
  }

  get size(): number {
    return this.data.length;
  }

  /** Row `i` of the first axis as a new tensor view (shares memory). */
  at(i: number): Tensor {
    const per = this.shape.slice(1).reduce((a, b) => a * b, 1);
    return new Tensor(this.data.subarray(i * per, (i + 1) * per), this.shape.slice(1));
  }

  toArray(): number[] {
    return Array.from(this.data);
  }
}

function describeType(x: unknown): string {
  if (x === null) return 'null';
  if (typeof x !== 'object') return typeof x;
  return (x as object).constructor?.name ?? 'object';
}
