// PyTorch checkpoints (.pth / .pt / pytorch_model.bin), all three layouts torch.load reads:
//   zip (torch >= 1.6): <archive>/data.pkl + <archive>/data/<key> raw storages (read in place, by offset);
//   legacy (torch.save(_use_new_zipfile_serialization=False)): magic, protocol, sys_info, the pickle, the storage
//     keys, then each storage as i64 numel + raw bytes;
//   tar (torch < 0.4): members 'storages', 'tensors', 'pickle'.
// Tensors come out as views (offset, strides) of storages, materialised one at a time on read().
import { checkpointError, type ByteFile } from './byte-file.ts';
import { PickleTruncated, pyTypeName, unpickle, type PyValue } from './pickle.ts';
import { checkView, StorageType, TorchStorage, TorchTensor, torchGlobal } from './torch-pickle.ts';
import type { CheckpointTensor } from './checkpoint-tensor.ts';
import { gather, isContiguous, numel, span } from './strided.ts';
import { ZipArchive } from './zip.ts';

export interface PthContents {
  format: 'pth-zip' | 'pth-legacy' | 'pth-tar';
  tensors: Map<string, CheckpointTensor>;
  /** Entries that are not float tensors (integer buffers, epoch, args, ...), with why. */
  skipped: string[];
  /** The container the state dict was taken from ('model', 'state_dict', 'model_ema', ...), if any. */
  container?: string;
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

/** Decodes one pickle at `pos` of the file, reading a growing window (pickles are small; data follows them). */
function pickleAt(file: ByteFile, pos: number, end: number, persistentLoad?: (pid: PyValue) => PyValue): { value: PyValue; end: number } {
  for (let win = 1 << 16; ; win *= 4) {
    const len = Math.min(win, end - pos);
    const buf = file.read(pos, len, 'pickle');
    try {
      const r = unpickle(buf, 0, { what: file.path, resolveGlobal: (m, n) => torchGlobal(file.path, m, n), persistentLoad });
      return { value: r.value, end: pos + r.end };
    } catch (err) {
      if (!(err instanceof PickleTruncated) || len >= end - pos) throw err;
    }
  }
}

function tupleOf(pid: PyValue, path: string): PyValue[] {
  if (!Array.isArray(pid) || pid[0] !== 'storage') throw checkpointError(path, `unexpected persistent id (a ${pyTypeName(pid)})`);
  return pid;
}

function storageTypeOf(v: PyValue, path: string): StorageType {
  if (!(v instanceof StorageType)) throw checkpointError(path, `persistent id names a ${pyTypeName(v)}, not a storage type`);
  return v;
}

const count = (v: PyValue, what: string, path: string): number => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw checkpointError(path, `${what} is not a count`);
  return v;
};

export function readZipPth(file: ByteFile, zip: ZipArchive): PthContents {
  const pkl = [...zip.entries.keys()].filter((n) => n.endsWith('data.pkl') && (n === 'data.pkl' || n.endsWith('/data.pkl')));
  if (pkl.length !== 1) throw checkpointError(file.path, `zip has ${pkl.length} data.pkl entries (not a torch checkpoint?)`);
  const prefix = pkl[0].slice(0, -'data.pkl'.length);
  const order = zip.entries.get(`${prefix}byteorder`);
  if (order && zip.read(order).toString('latin1').trim() !== 'little') throw checkpointError(file.path, 'big-endian checkpoints are not supported');
  const storages = new Map<string, TorchStorage>();
  const persistentLoad = (pid: PyValue): PyValue => {
    const [, st, key, , n] = tupleOf(pid, file.path);
    const t = storageTypeOf(st, file.path).t;
    const k = String(key);
    const have = storages.get(k);
    if (have) return have;
    const entry = zip.entries.get(`${prefix}data/${k}`);
    if (!entry) throw checkpointError(file.path, `storage '${k}' has no zip entry`);
    const elems = count(n, `storage '${k}' size`, file.path);
    if (entry.size < elems * t.es) throw checkpointError(file.path, `storage '${k}' holds ${entry.size} bytes, needs ${elems * t.es}`);
    const s = new TorchStorage(k, t, elems, (start, len) => zip.readRange(entry, start, len));
    storages.set(k, s);
    return s;
  };
  const data = zip.read(zip.entries.get(pkl[0])!);
  const { value } = unpickle(data, 0, { what: file.path, resolveGlobal: (m, n) => torchGlobal(file.path, m, n), persistentLoad });
  return { format: 'pth-zip', ...stateDict(value, file.path) };
}

export function readLegacyPth(file: ByteFile): PthContents {
  const p = file.path;
  let r = pickleAt(file, 0, file.size);
  if (r.value !== LEGACY_MAGIC) throw checkpointError(p, 'not a PyTorch checkpoint (bad magic number)');
  r = pickleAt(file, r.end, file.size);
  if (r.value !== 1001) throw checkpointError(p, `unsupported legacy protocol version ${String(r.value)}`);
  r = pickleAt(file, r.end, file.size);
  const sys = r.value;
  if (sys instanceof Map && sys.get('little_endian') === false) throw checkpointError(p, 'big-endian checkpoints are not supported');
  // storages are placed once their offsets are known (after the key list)
  const pending = new Map<string, { t: StorageType; numel: number; base: { offset: number } | null }>();
  const made = new Map<string, TorchStorage>();
  const persistentLoad = (pid: PyValue): PyValue => {
    const [, st, rootKey, , n, view] = tupleOf(pid, p);
    const t = storageTypeOf(st, p);
    const k = String(rootKey);
    let root = pending.get(k);
    if (!root) {
      root = { t, numel: count(n, `storage '${k}' size`, p), base: null };
      pending.set(k, root);
    }
    const rootRef = root;
    const read = (off: number) => (start: number, len: number) => {
      if (!rootRef.base) throw checkpointError(p, `storage '${k}' has no data`);
      if (off + start + len > rootRef.numel * rootRef.t.t.es) throw checkpointError(p, `read outside storage '${k}'`);
      return file.read(rootRef.base.offset + off + start, len, `storage '${k}'`);
    };
    if (view === null || view === undefined) {
      let s = made.get(k);
      if (!s) made.set(k, (s = new TorchStorage(k, t.t, root.numel, read(0))));
      return s;
    }
    if (!Array.isArray(view) || view.length !== 3) throw checkpointError(p, `storage '${k}' has a malformed view`);
    const off = count(view[1], 'view offset', p);
    const size = count(view[2], 'view size', p);
    if (off + size > root.numel) throw checkpointError(p, `storage view [${off}, +${size}) outside storage '${k}'`);
    return new TorchStorage(`${k}[${off}:]`, t.t, size, read(off * t.t.es));
  };
  r = pickleAt(file, r.end, file.size, persistentLoad);
  const top = r.value;
  r = pickleAt(file, r.end, file.size);
  const keys = r.value;
  if (!Array.isArray(keys)) throw checkpointError(p, 'storage key list missing');
  let pos = r.end;
  for (const key of keys) {
    const s = pending.get(String(key));
    if (!s) throw checkpointError(p, `storage '${String(key)}' is listed but never used`);
    const n = Number(file.read(pos, 8, 'storage size').readBigInt64LE(0));
    if (n !== s.numel) throw checkpointError(p, `storage '${String(key)}' has ${n} elements on disk, ${s.numel} in the pickle`);
    s.base = { offset: pos + 8 };
    pos += 8 + n * s.t.t.es;
    if (pos > file.size) throw checkpointError(p, `storage '${String(key)}' runs past the end of the file (truncated?)`);
  }
  for (const [k, s] of pending) if (!s.base) throw checkpointError(p, `storage '${k}' is not in the key list`);
  return { format: 'pth-legacy', ...stateDict(top, p) };
}

/** tar members by name: [data offset, size]. */
function tarMembers(file: ByteFile): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  let pos = 0;
  let longName: string | null = null;
  while (pos + 512 <= file.size) {
    const h = file.read(pos, 512, 'tar header');
    if (h.every((b) => b === 0)) break;
    const name = longName ?? h.toString('latin1', 0, 100).replace(/\0.*$/s, '');
    longName = null;
    const sizeField = h.toString('latin1', 124, 136).replace(/\0.*$/s, '').trim();
    if (!/^[0-7]*$/.test(sizeField)) throw checkpointError(file.path, 'corrupt tar header');
    const size = parseInt(sizeField || '0', 8);
    const type = String.fromCharCode(h[156]);
    const data = pos + 512;
    if (data + size > file.size) throw checkpointError(file.path, `tar member '${name}' is truncated`);
    if (type === 'L') longName = file.read(data, size).toString('latin1').replace(/\0.*$/s, '');
    else if (type === '0' || type === '\0') out.set(name.replace(/^\.\//, ''), [data, size]);
    pos = data + Math.ceil(size / 512) * 512;
  }
  return out;
}

export function isTar(head: Buffer): boolean {
  return head.length >= 262 && head.toString('latin1', 257, 262) === 'ustar';
}

export function readTarPth(file: ByteFile): PthContents {
  const p = file.path;
  const m = tarMembers(file);
  for (const need of ['storages', 'tensors', 'pickle']) if (!m.has(need)) throw checkpointError(p, `legacy tar checkpoint has no '${need}' member`);
  const storages = new Map<string, TorchStorage>();
  {
    const [start, size] = m.get('storages')!;
    const end = start + size;
    let r = pickleAt(file, start, end);
    const n = count(r.value, 'storage count', p);
    for (let i = 0; i < n; i++) {
      r = pickleAt(file, r.end, end);
      const rec = r.value;
      if (!Array.isArray(rec) || rec.length !== 3) throw checkpointError(p, 'malformed storage record');
      const t = storageTypeOf(rec[2], p).t;
      const elems = Number(file.read(r.end, 8, 'storage size').readBigInt64LE(0));
      const base = r.end + 8;
      if (!Number.isSafeInteger(elems) || elems < 0 || base + elems * t.es > end) throw checkpointError(p, 'storage runs past its tar member');
      storages.set(String(rec[0]), new TorchStorage(String(rec[0]), t, elems, (s, len) => {
        if (s + len > elems * t.es) throw checkpointError(p, 'read outside a storage');
        return file.read(base + s, len);
      }));
      r = { value: null, end: base + elems * t.es };
    }
    r = pickleAt(file, r.end, end);
    if (!Array.isArray(r.value)) throw checkpointError(p, 'storage view list missing');
    for (const v of r.value) {
      if (!Array.isArray(v) || v.length !== 4) throw checkpointError(p, 'malformed storage view');
      const root = storages.get(String(v[1]));
      const off = count(v[2], 'view offset', p);
      const size2 = count(v[3], 'view size', p);
      if (!root || off + size2 > root.numel) throw checkpointError(p, 'storage view outside its storage');
      storages.set(String(v[0]), new TorchStorage(String(v[0]), root.t, size2, (s, len) => root.readBytes(off * root.t.es + s, len)));
    }
  }
  const tensors = new Map<string, TorchTensor>();
  {
    const [start, size] = m.get('tensors')!;
    const end = start + size;
    let r = pickleAt(file, start, end);
    const n = count(r.value, 'tensor count', p);
    let pos = r.end;
    for (let i = 0; i < n; i++) {
      r = pickleAt(file, pos, end);
      const rec = r.value;
      if (!Array.isArray(rec) || rec.length !== 3) throw checkpointError(p, 'malformed tensor record');
      const storage = storages.get(String(rec[1]));
      if (!storage) throw checkpointError(p, `tensor refers to unknown storage '${String(rec[1])}'`);
      if (r.end + 8 > end) throw checkpointError(p, 'tensor record truncated');
      const ndim = file.read(r.end, 4).readInt32LE(0);
      if (ndim < 0 || ndim > 64 || r.end + 8 + 16 * ndim + 8 > end) throw checkpointError(p, `tensor record has ${ndim} dims`);
      const dims = file.read(r.end + 8, 16 * ndim + 8);
      const ints = Array.from({ length: 2 * ndim + 1 }, (_, j) => Number(dims.readBigInt64LE(8 * j)));
      const view = { shape: ints.slice(0, ndim), strides: ints.slice(ndim, 2 * ndim), offset: ints[2 * ndim] };
      if (ints.some((x) => !Number.isSafeInteger(x) || x < 0)) throw checkpointError(p, 'tensor record has negative sizes');
      checkView(view, storage, p);
      tensors.set(String(rec[0]), new TorchTensor(storage, view));
      pos = r.end + 8 + 16 * ndim + 8;
    }
  }
  const [start, size] = m.get('pickle')!;
  const { value } = pickleAt(file, start, start + size, (pid) => {
    const t = tensors.get(String(pid));
    if (!t) throw checkpointError(p, `the pickle refers to unknown tensor '${Array.isArray(pid) ? 'tuple' : String(pid)}'`);
    return t;
  });
  return { format: 'pth-tar', ...stateDict(value, p) };
}

/**
 * timm's load_state_dict container choice (_helpers.py): 'state_dict_ema' / 'model_ema' first (timm's
 * load_checkpoint defaults to use_ema=True), then 'state_dict', then 'model'; else the dict itself.
 */
export function stateDict(top: PyValue, path: string): Omit<PthContents, 'format'> {
  if (!(top instanceof Map)) throw checkpointError(path, `the checkpoint holds a ${pyTypeName(top)}, not a state dict`);
  let dict = top;
  let container: string | undefined;
  const skipped: string[] = [];
  for (const k of ['state_dict_ema', 'model_ema', 'state_dict', 'model']) {
    const v = top.get(k);
    if (v instanceof Map && [...v.values()].some((x) => x instanceof TorchTensor)) {
      dict = v;
      container = k;
      break;
    }
  }
  if (container) for (const k of top.keys()) if (k !== container) skipped.push(`${String(k)} (outside '${container}')`);
  const tensors = new Map<string, CheckpointTensor>();
  for (const [k, v] of dict) {
    if (!(v instanceof TorchTensor)) {
      skipped.push(`${String(k)} (${pyTypeName(v)})`);
      continue;
    }
    if (typeof k !== 'string') throw checkpointError(path, `state dict key ${String(k)} is not a string`);
    const dtype = v.storage.t.dtype;
    if (!dtype) {
      skipped.push(`${k} (${v.storage.t.name} tensor)`);
      continue;
    }
    tensors.set(k, { shape: [...v.view.shape], dtype, read: () => materialise(v) });
  }
  if (!tensors.size) throw checkpointError(path, 'no float tensors found (not a model checkpoint?)');
  return { tensors, skipped, container };
}

/** A contiguous copy of the tensor: read in place when contiguous, else read its span and gather. */
function materialise(t: TorchTensor): Buffer {
  const es = t.storage.t.es;
  const [lo, hi] = span(t.view);
  const n = numel(t.view.shape);
  if (n === 0) return Buffer.alloc(0);
  const raw = t.storage.readBytes(lo * es, (hi - lo) * es);
  return isContiguous(t.view) ? raw : gather(raw, lo, t.view, es);
}
