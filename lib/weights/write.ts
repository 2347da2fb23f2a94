// Streaming safetensors writer: header first, then each tensor's bytes as it is read (one tensor in memory at a
// time), any dtype — for converting large checkpoints.
import { closeSync, openSync, writeSync } from 'node:fs';
import { VitError } from '../errors.ts';
import type { StDtype } from './safetensors.ts';

const SIZE: Record<StDtype, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

export interface WriteEntry {
  name: string;
  shape: readonly number[];
  dtype: StDtype;
  read(): ArrayBufferView;
}

export function writeSafetensorsStream(path: string, entries: WriteEntry[], metadata?: Record<string, string>): number {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  for (const e of entries) {
    const n = e.shape.reduce((a, b) => a * b, 1) * SIZE[e.dtype];
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [off, off + n] };
    off += n;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((Buffer.byteLength(json) + 8) % 8)) % 8);
  const hdr = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(hdr.length));
  let fd: number;
  try {
    fd = openSync(path, 'w');
  } catch (err) {
    throw new VitError('VIT_E_IO', `cannot write ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    writeSync(fd, len);
    writeSync(fd, hdr);
    for (const e of entries) {
      const v = e.read();
      const want = e.shape.reduce((a, b) => a * b, 1) * SIZE[e.dtype];
      if (v.byteLength !== want) throw new VitError('VIT_E_INTERNAL', `${e.name}: ${v.byteLength} bytes, expected ${want}`);
      const b = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      for (let p = 0; p < b.length; ) p += writeSync(fd, b, p, b.length - p);
    }
  } finally {
    closeSync(fd);
  }
  return 8 + hdr.length + off;
}
