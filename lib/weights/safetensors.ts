// safetensors: u64 LE header length, JSON header {name: {dtype, shape, data_offsets}}, raw LE data.
// Reads validate every offset before touching data, so a corrupt file is an error, never a bad read.
import { closeSync, fstatSync, openSync, readSync, writeFileSync } from 'node:fs';
import { VitError } from '../errors.ts';

export type StDtype = 'F32' | 'F16' | 'BF16' | 'F64';
const DTYPE_SIZE: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

export interface StEntry {
  name: string;
  dtype: StDtype;
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

export interface StFile {
  path: string;
  entries: Map<string, StEntry>;
  metadata: Record<string, string>;
  /** Raw little-endian bytes of one tensor (a fresh Buffer, outside the JS heap). */
  read(name: string): Buffer;
  close(): void;
}

const bad = (path: string, why: string) => new VitError('VIT_E_CHECKPOINT', `${path}: not a valid safetensors file (${why})`);

export function openSafetensors(path: string): StFile {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new VitError('VIT_E_IO', `cannot open ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const size = fstatSync(fd).size;
    if (size < 8) throw bad(path, `file is ${size} bytes`);
    const lenBuf = Buffer.alloc(8);
    readSync(fd, lenBuf, 0, 8, 0);
    const headerLen = Number(lenBuf.readBigUInt64LE(0));
    if (headerLen <= 1 || 8 + headerLen > size || headerLen > 100 * 1024 * 1024) throw bad(path, `header length ${headerLen}`);
    const hdr = Buffer.alloc(headerLen);
    readSync(fd, hdr, 0, headerLen, 8);
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(hdr.toString('utf8'));
    } catch {
      throw bad(path, 'header is not JSON');
    }
    if (!json || typeof json !== 'object' || Array.isArray(json)) throw bad(path, 'header is not an object');
    const base = 8 + headerLen;
    const entries = new Map<string, StEntry>();
    let metadata: Record<string, string> = {};
    for (const [name, v] of Object.entries(json)) {
      if (name === '__metadata__') {
        metadata = (v ?? {}) as Record<string, string>;
        continue;
      }
      const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      const dtype = String(e?.dtype);
      if (!(dtype in DTYPE_SIZE)) throw new VitError('VIT_E_CHECKPOINT', `${path}: tensor '${name}' has unsupported dtype ${dtype}`);
      const shape = e.shape;
      const offs = e.data_offsets;
      if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw bad(path, `tensor '${name}' shape`);
      if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0)) throw bad(path, `tensor '${name}' offsets`);
      const n = (shape as number[]).reduce((a, b) => a * b, 1);
      const [b0, b1] = offs as number[];
      if (b1 < b0 || b1 - b0 !== n * DTYPE_SIZE[dtype] || base + b1 > size)
        throw bad(path, `tensor '${name}' data [${b0}, ${b1}) does not fit its shape or the file (truncated?)`);
      entries.set(name, { name, dtype: dtype as StDtype, shape: shape as number[], begin: base + b0, end: base + b1 });
    }
    const file: StFile = {
      path,
      entries,
      metadata,
      read(name: string): Buffer {
        const e = entries.get(name);
        if (!e) throw new VitError('VIT_E_CHECKPOINT', `${path}: no tensor '${name}'`);
        const buf = Buffer.allocUnsafe(e.end - e.begin);
        let got = 0;
        while (got < buf.length) {
          const r = readSync(fd, buf, got, buf.length - got, e.begin + got);
          if (r <= 0) throw bad(path, `unexpected end of file reading '${name}'`);
          got += r;
        }
        return buf;
      },
      close() {
        closeSync(fd);
      },
    };
    return file;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** Reads a whole safetensors file as float32 arrays (small files: fixtures, inputs). */
export function readSafetensors(path: string): Map<string, { shape: number[]; data: Float32Array }> {
  const f = openSafetensors(path);
  try {
    const out = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const e of f.entries.values()) out.set(e.name, { shape: e.shape, data: toFloat32(f.read(e.name), e.dtype) });
    return out;
  } finally {
    f.close();
  }
}

export function toFloat32(buf: Buffer, dtype: StDtype): Float32Array {
  const n = buf.length / DTYPE_SIZE[dtype];
  const out = new Float32Array(n);
  if (dtype === 'F32') {
    out.set(new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length)));
  } else if (dtype === 'F64') {
    for (let i = 0; i < n; i++) out[i] = buf.readDoubleLE(i * 8);
  } else if (dtype === 'BF16') {
    const u = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) u[i] = buf.readUInt16LE(i * 2) << 16;
  } else {
    for (let i = 0; i < n; i++) out[i] = halfToFloat(buf.readUInt16LE(i * 2));
  }
  return out;
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Writes float32 tensors as safetensors (keys in the given order): `[name, tensor]` pairs or a Map, such as
 *  `model.stateDict()`. */
export function writeSafetensors(path: string, entries: Iterable<readonly [string, { shape: readonly number[]; data: Float32Array }]>,
  metadata?: Record<string, string>): void {
  const tensors = [...entries];
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  for (const [name, t] of tensors) {
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [off, off + t.data.byteLength] };
    off += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((json.length + 8) % 8)) % 8);
  const hdr = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + hdr.length + off);
  out.writeBigUInt64LE(BigInt(hdr.length), 0);
  hdr.copy(out, 8);
  let p = 8 + hdr.length;
  for (const [, t] of tensors) {
    Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).copy(out, p);
    p += t.data.byteLength;
  }
  writeFileSync(path, out);
}
