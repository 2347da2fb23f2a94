// What a PyTorch checkpoint's pickle may contain: the allowlist of torch.load(weights_only=True) that state
// dicts need (tensor rebuild functions, storage types, OrderedDict), and the tensor / storage objects they build.
import { VitError } from '../errors.ts';
import { PyCallable, refuseGlobal, type PyObject, type PyValue } from './pickle.ts';
import type { StDtype } from './safetensors.ts';
import { numel, span, type View } from './strided.ts';

/** A torch dtype by its legacy storage class; `dtype` null = not a float type (skipped as a weight). */
export interface TorchDtype {
  name: string;
  dtype: StDtype | null;
  es: number;
}

const dt = (name: string, dtype: StDtype | null, es: number): TorchDtype => ({ name, dtype, es });
export const STORAGE_TYPES: Record<string, TorchDtype> = {
  FloatStorage: dt('float32', 'F32', 4),
  HalfStorage: dt('float16', 'F16', 2),
  BFloat16Storage: dt('bfloat16', 'BF16', 2),
  DoubleStorage: dt('float64', 'F64', 8),
  LongStorage: dt('int64', null, 8),
  IntStorage: dt('int32', null, 4),
  ShortStorage: dt('int16', null, 2),
  CharStorage: dt('int8', null, 1),
  ByteStorage: dt('uint8', null, 1),
  BoolStorage: dt('bool', null, 1),
  ComplexFloatStorage: dt('complex64', null, 8),
  ComplexDoubleStorage: dt('complex128', null, 16),
  QInt8Storage: dt('qint8', null, 1),
  QInt32Storage: dt('qint32', null, 4),
  QUInt8Storage: dt('quint8', null, 1),
  QUInt4x2Storage: dt('quint4x2', null, 1),
  QUInt2x4Storage: dt('quint2x4', null, 1),
};
// Pre-1.0 tensor type names (legacy tar format records them per tensor).
const TENSOR_TYPES = new Set(Object.keys(STORAGE_TYPES).map((s) => s.replace(/Storage$/, 'Tensor')));

export class StorageType implements PyObject {
  readonly pyType = 'torch storage type';
  constructor(readonly qualname: string, readonly t: TorchDtype) {}
}

/** A storage (or a legacy view of one): `numel` elements read through `readBytes` (offsets in bytes). */
export class TorchStorage implements PyObject {
  readonly pyType = 'torch storage';
  constructor(
    readonly key: string,
    readonly t: TorchDtype,
    readonly numel: number,
    readonly readBytes: (start: number, len: number) => Buffer,
  ) {}
}

export class TorchTensor implements PyObject {
  readonly pyType = 'torch.Tensor';
  constructor(readonly storage: TorchStorage, readonly view: View) {}
  setState(): void {
    // Python-level tensor attributes (BUILD after a rebuild): irrelevant to the weights.
  }
}

const opaque = (pyType: string): PyObject => ({ pyType });

function intArg(v: PyValue, what: string, ctx: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new VitError('VIT_E_CHECKPOINT', `${ctx}: ${what} is not a non-negative integer`);
  return v;
}

function intList(v: PyValue, what: string, ctx: string): number[] {
  if (!Array.isArray(v) || v.length > 64) throw new VitError('VIT_E_CHECKPOINT', `${ctx}: ${what} is not a tuple of integers`);
  return v.map((x) => intArg(x, what, ctx));
}

/** A view must lie inside its storage; broadcast (stride 0) views may repeat elements, but not without bound. */
export function checkView(view: View, storage: TorchStorage, ctx: string): void {
  if (view.shape.length !== view.strides.length) throw new VitError('VIT_E_CHECKPOINT', `${ctx}: size and stride have different lengths`);
  const n = numel(view.shape);
  if (n > 2 ** 40 || n > 64 * Math.max(storage.numel, 1)) {
    throw new VitError('VIT_E_CHECKPOINT', `${ctx}: a ${n}-element view of a ${storage.numel}-element storage`);
  }
  const [, hi] = span(view);
  if (hi > storage.numel) {
    throw new VitError('VIT_E_CHECKPOINT', `${ctx}: tensor view [offset ${view.offset}, size (${view.shape}), stride (${view.strides})] reaches element ${hi - 1} of a ${storage.numel}-element storage`);
  }
}

export function rebuildTensor(args: PyValue[], ctx: string): TorchTensor {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof TorchStorage)) throw new VitError('VIT_E_CHECKPOINT', `${ctx}: tensor rebuilt from a ${storage === null ? 'None' : typeof storage} instead of a storage`);
  const view: View = { offset: intArg(offset, 'storage offset', ctx), shape: intList(size, 'size', ctx), strides: intList(stride, 'stride', ctx) };
  checkView(view, storage, ctx);
  return new TorchTensor(storage, view);
}

/** torch.load(weights_only=True)'s allowlist, as far as state dicts need it. Everything else is refused by name. */
export function torchGlobal(what: string, mod: string, name: string): PyValue {
  const q = `${mod}.${name}`;
  const ctx = `${what}: ${q}`;
  switch (q) {
    case 'torch._utils._rebuild_tensor_v2':
    case 'torch._utils._rebuild_tensor':
      return new PyCallable(q, (a) => rebuildTensor(a, ctx));
    case 'torch._utils._rebuild_parameter':
    case 'torch._utils._rebuild_parameter_with_state':
      return new PyCallable(q, (a) => {
        if (!(a[0] instanceof TorchTensor)) throw new VitError('VIT_E_CHECKPOINT', `${ctx}: parameter data is not a tensor`);
        return a[0];
      });
    case 'collections.OrderedDict':
      return new PyCallable(q, (a) => {
        const d = new Map<PyValue, PyValue>();
        if (Array.isArray(a[0])) {
          for (const kv of a[0]) {
            if (!Array.isArray(kv) || kv.length !== 2) throw new VitError('VIT_E_CHECKPOINT', `${ctx}: items are not pairs`);
            d.set(kv[0], kv[1]);
          }
        }
        return d;
      });
    case 'torch.Size':
      return new PyCallable(q, (a) => (Array.isArray(a[0]) ? [...a[0]] : []));
    case 'torch.device':
      return new PyCallable(q, (a) => a.map(String).join(':'));
    case '_codecs.encode':
      return new PyCallable(q, (a) => Buffer.from(typeof a[0] === 'string' ? a[0] : '', 'latin1'));
    case 'builtins.set':
    case 'builtins.frozenset':
    case '__builtin__.set':
      return new PyCallable(q, (a) => new Set(Array.isArray(a[0]) ? a[0] : []));
    case 'torch._utils._rebuild_tensor_v3':
    case 'torch._tensor._rebuild_from_type_v2':
      return new PyCallable(q, () => {
        throw new VitError('VIT_E_UNSUPPORTED', `${what}: tensors rebuilt with ${q} (typed views of untyped storages / tensor subclasses) are not supported; re-save the state_dict with plain tensors`);
      });
  }
  if (mod === 'torch' && name in STORAGE_TYPES) return new StorageType(q, STORAGE_TYPES[name]);
  if (mod === 'torch' && TENSOR_TYPES.has(name)) return opaque(q);
  if (mod === 'torch' && /^(float|bfloat|half|double|u?int)\d*$/.test(name)) return opaque(q); // dtypes (metadata)
  throw refuseGlobal(what, q);
}
