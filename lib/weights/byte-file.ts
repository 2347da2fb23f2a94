// Random-access reads from a checkpoint file by offset (no whole-file copies): every container format reads
// through this, so a short or corrupt file is a VIT_E_CHECKPOINT error, never a bad read.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { VitError } from '../errors.ts';

export class ByteFile {
  readonly size: number;
  private fd: number | null;

  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, 'r');
    } catch (err) {
      throw new VitError('VIT_E_IO', `cannot open checkpoint ${path}: ${(err as Error).message}`, { cause: err });
    }
    try {
      const st = fstatSync(this.fd);
      if (st.isDirectory()) throw new VitError('VIT_E_IO', `${path} is a directory, not a checkpoint file`);
      this.size = st.size;
    } catch (err) {
      closeSync(this.fd);
      throw err;
    }
  }

  /** Exactly `len` bytes at `pos` (a fresh Buffer outside the JS heap), or a VIT_E_CHECKPOINT error. */
  read(pos: number, len: number, what = 'data'): Buffer {
    if (this.fd === null) throw new VitError('VIT_E_DISPOSED', `${this.path}: checkpoint already closed`);
    if (!Number.isSafeInteger(pos) || !Number.isSafeInteger(len) || pos < 0 || len < 0 || pos + len > this.size) {
      throw new VitError('VIT_E_CHECKPOINT', `${this.path}: ${what} at [${pos}, ${pos + len}) lies outside the ${this.size}-byte file (truncated?)`);
    }
    const buf = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const r = readSync(this.fd, buf, got, len - got, pos + got);
      if (r <= 0) throw new VitError('VIT_E_CHECKPOINT', `${this.path}: unexpected end of file reading ${what}`);
      got += r;
    }
    return buf;
  }

  /** Up to `len` bytes at `pos` (fewer at the end of the file). */
  readUpTo(pos: number, len: number): Buffer {
    const n = Math.max(0, Math.min(len, this.size - pos));
    return this.read(pos, n);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

export const checkpointError = (path: string, msg: string) => new VitError('VIT_E_CHECKPOINT', `${path}: ${msg}`);
