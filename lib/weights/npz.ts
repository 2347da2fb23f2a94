// NumPy .npz (a zip of .npy files, stored or deflated): array headers parsed up front, data read per array on
// demand. Little- and big-endian float16/32/64, C and Fortran order.
import { checkpointError, type ByteFile } from './byte-file.ts';
import type { StDtype } from './safetensors.ts';
import { byteswap, contiguousStrides, gather, isContiguous, numel, span, type View } from './strided.ts';
import type { ZipArchive, ZipEntry } from './zip.ts';

export interface NpyArray {
  name: string;
  dtype: StDtype;
  es: number;
  shape: number[];
  fortran: boolean;
  bigEndian: boolean;
  entry: ZipEntry;
  /** Byte offset of the data inside the (uncompressed) entry. */
  dataStart: number;
}

const DESCR: Record<string, [StDtype, number]> = { f2: ['F16', 2], f4: ['F32', 4], f8: ['F64', 8] };
const MAGIC = Buffer.from('\x93NUMPY', 'latin1');

/** Parses a .npy header (magic, version, python-literal dict). */
export function parseNpyHeader(head: Buffer, name: string, path: string): Omit<NpyArray, 'entry'> {
  const bad = (why: string) => checkpointError(path, `array '${name}': ${why}`);
  if (head.length < 10 || !head.subarray(0, 6).equals(MAGIC)) throw bad('not a .npy array (bad magic)');
  const major = head[6];
  if (major < 1 || major > 3) throw bad(`unsupported .npy version ${major}`);
  const hlen = major === 1 ? head.readUInt16LE(8) : head.length >= 12 ? head.readUInt32LE(8) : -1;
  const hstart = major === 1 ? 10 : 12;
  if (hlen < 0 || hstart + hlen > head.length) throw bad('truncated header');
  const text = head.toString(major === 3 ? 'utf8' : 'latin1', hstart, hstart + hlen);
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(text)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw bad(`unreadable header ${JSON.stringify(text.slice(0, 120))}`);
  const m = /^([<>|=])?([a-zA-Z])(\d+)$/.exec(descr);
  const kind = m ? `${m[2]}${m[3]}` : descr;
  if (!m || !(kind in DESCR)) throw bad(`dtype '${descr}' is not a float16/32/64 type`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s.length).map((s) => {
    if (!/^\d{1,15}L?$/.test(s)) throw bad(`bad shape (${shapeText})`);
    return parseInt(s, 10);
  });
  if (shape.length > 32 || numel(shape) > 2 ** 40) throw bad(`bad shape (${shapeText})`);
  const [dtype, es] = DESCR[kind];
  return { name, dtype, es, shape, fortran: fortran === 'True', bigEndian: m[1] === '>', dataStart: hstart + hlen };
}

export function readNpz(file: ByteFile, zip: ZipArchive): Map<string, NpyArray> {
  const out = new Map<string, NpyArray>();
  for (const entry of zip.entries.values()) {
    if (!entry.name.endsWith('.npy')) continue;
    const name = entry.name.slice(0, -4);
    const h = parseNpyHeader(zip.head(entry, 4096), name, file.path);
    if (h.dataStart + numel(h.shape) * h.es !== entry.size) {
      throw checkpointError(file.path, `array '${name}': ${entry.size - h.dataStart} data bytes for shape (${h.shape.join(', ')}) of ${h.dtype}`);
    }
    out.set(name, { ...h, entry });
  }
  if (!out.size) throw checkpointError(file.path, 'the .npz holds no .npy arrays');
  return out;
}

/** The array's element layout: C order, or Fortran order (first index fastest). */
export function npyView(a: NpyArray): View {
  const strides = a.fortran ? contiguousStrides([...a.shape].reverse()).reverse() : contiguousStrides(a.shape);
  return { shape: a.shape, strides, offset: 0 };
}

/** A contiguous little-endian copy of a view of the array (e.g. one layer of a scanned stack). */
export function readNpyView(zip: ZipArchive, a: NpyArray, v: View): Buffer {
  const [lo, hi] = span(v);
  const raw = zip.readRange(a.entry, a.dataStart + lo * a.es, (hi - lo) * a.es);
  const out = isContiguous(v) ? raw : gather(raw, lo, v, a.es);
  return a.bigEndian ? byteswap(out, a.es) : out;
}
