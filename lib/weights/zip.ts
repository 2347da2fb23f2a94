// Minimal zip reader (central directory, zip64, stored + deflate entries) over a ByteFile: the container of
// torch >= 1.6 checkpoints and of .npz files. Entries are read by offset, one at a time, never the whole archive.
import { crc32, constants, inflateRawSync } from 'node:zlib';
import { checkpointError, type ByteFile } from './byte-file.ts';

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflate. */
  method: number;
  compressedSize: number;
  size: number;
  crc: number;
  localOffset: number;
}

const EOCD = 0x06054b50;
const EOCD64 = 0x06064b50;
const EOCD64_LOCATOR = 0x07064b50;
const CDH = 0x02014b50;
const LFH = 0x04034b50;

const MAX_OUT = 2 ** 31 - 1;

export const isZip = (head: Buffer) => head.length >= 4 && head.readUInt32LE(0) === LFH;

export class ZipArchive {
  readonly entries = new Map<string, ZipEntry>();
  private dataOffsets = new Map<string, number>();

  constructor(readonly file: ByteFile) {
    const bad = (why: string) => checkpointError(file.path, `not a valid zip archive (${why})`);
    const tailLen = Math.min(file.size, 65535 + 22);
    const tail = file.read(file.size - tailLen, tailLen, 'zip end record');
    let e = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === EOCD) {
        e = i;
        break;
      }
    }
    if (e < 0) throw bad('no end-of-central-directory record');
    let count = tail.readUInt16LE(e + 10);
    let cdSize = tail.readUInt32LE(e + 12);
    let cdOffset = tail.readUInt32LE(e + 16);
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      const locPos = file.size - tailLen + e - 20;
      if (locPos < 0) throw bad('zip64 locator missing');
      const loc = file.read(locPos, 20, 'zip64 locator');
      if (loc.readUInt32LE(0) !== EOCD64_LOCATOR) throw bad('zip64 locator missing');
      const recPos = safe(loc.readBigUInt64LE(8), bad);
      const rec = file.read(recPos, 56, 'zip64 end record');
      if (rec.readUInt32LE(0) !== EOCD64) throw bad('zip64 end record missing');
      count = safe(rec.readBigUInt64LE(32), bad);
      cdSize = safe(rec.readBigUInt64LE(40), bad);
      cdOffset = safe(rec.readBigUInt64LE(48), bad);
    }
    if (cdOffset + cdSize > file.size) throw bad(`central directory [${cdOffset}, +${cdSize}) outside the file`);
    if (count > cdSize / 46) throw bad(`${count} entries cannot fit a ${cdSize}-byte central directory`);
    const cd = file.read(cdOffset, cdSize, 'zip central directory');
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cd.length || cd.readUInt32LE(p) !== CDH) throw bad(`central directory entry ${i} is corrupt`);
      const flags = cd.readUInt16LE(p + 8);
      const method = cd.readUInt16LE(p + 10);
      const crc = cd.readUInt32LE(p + 16);
      let compressedSize = cd.readUInt32LE(p + 20);
      let size = cd.readUInt32LE(p + 24);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      let localOffset = cd.readUInt32LE(p + 42);
      const end = p + 46 + nameLen + extraLen + commentLen;
      if (end > cd.length) throw bad(`central directory entry ${i} overruns the directory`);
      const name = cd.toString('utf8', p + 46, p + 46 + nameLen);
      // zip64 extended information: the 0xffffffff fields, in this order
      let x = p + 46 + nameLen;
      const xEnd = x + extraLen;
      while (x + 4 <= xEnd) {
        const id = cd.readUInt16LE(x);
        const len = cd.readUInt16LE(x + 2);
        if (x + 4 + len > xEnd) throw bad(`entry '${name}' has a corrupt extra field`);
        if (id === 1) {
          let q = x + 4;
          const next = () => {
            if (q + 8 > x + 4 + len) throw bad(`entry '${name}' has a short zip64 field`);
            const v = safe(cd.readBigUInt64LE(q), bad);
            q += 8;
            return v;
          };
          if (size === 0xffffffff) size = next();
          if (compressedSize === 0xffffffff) compressedSize = next();
          if (localOffset === 0xffffffff) localOffset = next();
        }
        x += 4 + len;
      }
      if (flags & 1) throw bad(`entry '${name}' is encrypted`);
      if (method !== 0 && method !== 8) throw bad(`entry '${name}' uses compression method ${method} (only stored and deflate)`);
      if (method === 0 && size !== compressedSize) throw bad(`stored entry '${name}' has different sizes`);
      if (localOffset + 30 + compressedSize > file.size) throw bad(`entry '${name}' lies outside the file`);
      this.entries.set(name, { name, method, compressedSize, size, crc, localOffset });
      p = end;
    }
  }

  /** File offset of the entry's (possibly compressed) data, from its local header. */
  dataOffset(entry: ZipEntry): number {
    let off = this.dataOffsets.get(entry.name);
    if (off !== undefined) return off;
    const h = this.file.read(entry.localOffset, 30, `local header of '${entry.name}'`);
    if (h.readUInt32LE(0) !== LFH) throw checkpointError(this.file.path, `zip entry '${entry.name}' has no local header`);
    off = entry.localOffset + 30 + h.readUInt16LE(26) + h.readUInt16LE(28);
    if (off + entry.compressedSize > this.file.size) throw checkpointError(this.file.path, `zip entry '${entry.name}' is truncated`);
    this.dataOffsets.set(entry.name, off);
    return off;
  }

  /** The whole entry, decompressed and CRC-checked. */
  read(entry: ZipEntry): Buffer {
    const raw = this.file.read(this.dataOffset(entry), entry.compressedSize, `zip entry '${entry.name}'`);
    let out = raw;
    if (entry.method === 8) {
      try {
        // one output chunk of the expected size: no chunk list + concat (half the transient memory)
        const cap = Math.max(1, Math.min(entry.size, MAX_OUT));
        out = inflateRawSync(raw, { maxOutputLength: cap, chunkSize: Math.max(64 * 1024, Math.min(cap + 1, 1 << 30)) });
      } catch (err) {
        throw checkpointError(this.file.path, `zip entry '${entry.name}' does not inflate: ${(err as Error).message}`);
      }
      if (out.length !== entry.size) throw checkpointError(this.file.path, `zip entry '${entry.name}' inflates to ${out.length} bytes, not ${entry.size}`);
    }
    if (crc32(out) >>> 0 !== entry.crc >>> 0) throw checkpointError(this.file.path, `zip entry '${entry.name}' fails its CRC check (corrupt file)`);
    return out;
  }

  /** Bytes [start, start + len) of the entry's uncompressed data; stored entries are read in place. */
  readRange(entry: ZipEntry, start: number, len: number): Buffer {
    if (start < 0 || len < 0 || start + len > entry.size) {
      throw checkpointError(this.file.path, `read [${start}, ${start + len}) outside zip entry '${entry.name}' (${entry.size} bytes)`);
    }
    if (entry.method === 0) return this.file.read(this.dataOffset(entry) + start, len, `zip entry '${entry.name}'`);
    const all = this.read(entry);
    return all.subarray(start, start + len);
  }

  /** The first bytes of an entry (deflated entries: a partial inflate), for headers. */
  head(entry: ZipEntry, len: number): Buffer {
    const n = Math.min(len, entry.size);
    if (entry.method === 0) return this.readRange(entry, 0, n);
    const raw = this.file.read(this.dataOffset(entry), Math.min(entry.compressedSize, len + 1024), `zip entry '${entry.name}'`);
    try {
      const out = inflateRawSync(raw, { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: Math.max(1, Math.min(entry.size, MAX_OUT)) });
      return out.subarray(0, n);
    } catch (err) {
      throw checkpointError(this.file.path, `zip entry '${entry.name}' does not inflate: ${(err as Error).message}`);
    }
  }
}

function safe(v: bigint, bad: (why: string) => Error): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(`offset ${v} too large`);
  return Number(v);
}
