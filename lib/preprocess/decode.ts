// Image decoding with sharp, made to behave like timm's loader (`PIL.Image.open(f).convert('RGB')`):
// embedded ICC profiles are ignored (PIL ignores them), grayscale is replicated to RGB, alpha is dropped (not
// composited), CMYK uses PIL's naive formula, 16-bit samples keep their high byte, animated formats give their first frame. EXIF orientation is
// applied by default (PIL / timm do not: pass `autoOrient: false` for timm's exact behaviour).
// Every failure is an ImageError (code VIT_E_IMAGE) with a machine-readable `reason`.
import { readFile } from 'node:fs/promises';
import type Sharp from 'sharp';

// sharp is loaded on first use: the tensor API (and GPU-only deployments) work without it installed.
let sharpModule: typeof Sharp | undefined;
async function loadSharp(): Promise<typeof Sharp> {
  return (sharpModule ??= (await import('sharp')).default);
}
import { VitError } from '../errors.ts';
import type { RawImage } from './resample.ts';

/** Raw 8-bit pixels, interleaved, row-major: RGB by default (channels 1 = gray, 2 = gray+alpha, 4 = RGBA). */
export interface RawPixels {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  channels?: 1 | 2 | 3 | 4;
}

/** A file path, an encoded image (JPEG, PNG, WebP, AVIF, TIFF, GIF, ...) in memory, or raw pixels. */
export type ImageInput = string | Buffer | Uint8Array | RawPixels;

export type ImageErrorReason = 'not_found' | 'empty' | 'unsupported_format' | 'truncated' | 'corrupt' | 'too_large' | 'invalid_raw' | 'invalid_input';

export class ImageError extends VitError {
  /** Position of the image in the batch it was part of (-1 when not in a batch). */
  index: number;
  constructor(
    readonly reason: ImageErrorReason,
    /** The path, or a short description of an in-memory input. */
    readonly source: string,
    message: string,
    options?: { cause?: unknown; index?: number },
  ) {
    super('VIT_E_IMAGE', `${source}: ${message}`, options);
    this.name = 'ImageError';
    this.index = options?.index ?? -1;
  }
}

export interface DecodeOptions {
  /** Reject images with more pixels than this (decompression bombs). Default: sharp's 268402689 (16383^2). */
  limitInputPixels?: number;
  /** Apply the EXIF Orientation tag. Default true. (PIL / timm: false.) */
  autoOrient?: boolean;
}

export const DEFAULT_PIXEL_LIMIT = 0x3fff * 0x3fff;

export function describeInput(input: ImageInput): string {
  if (typeof input === 'string') return input;
  if (input instanceof Uint8Array) return `<buffer ${input.byteLength} bytes>`;
  if (input && typeof input === 'object' && 'width' in input) return `<raw ${input.width}x${input.height}>`;
  return `<${input === null ? 'null' : typeof input}>`;
}

/** Decodes one input to packed 8-bit RGB (3 channels), PIL convert('RGB') semantics. */
export async function decodeImage(input: ImageInput, opts: DecodeOptions = {}): Promise<RawImage> {
  const source = describeInput(input);
  if (typeof input === 'string') {
    let bytes: Buffer;
    try {
      bytes = await readFile(input);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
      throw new ImageError('not_found', source, `cannot read image: ${why}`, { cause: err });
    }
    return decodeEncoded(bytes, source, opts);
  }
  if (input instanceof Uint8Array) return decodeEncoded(input, source, opts);
  if (input && typeof input === 'object' && 'data' in input) return fromRaw(input, source);
  throw new ImageError('invalid_input', source, 'an image must be a file path, a Buffer / Uint8Array of encoded bytes, or { data, width, height, channels? }');
}

async function decodeEncoded(bytes: Uint8Array, source: string, opts: DecodeOptions): Promise<RawImage> {
  if (bytes.byteLength === 0) throw new ImageError('empty', source, 'the image is empty (0 bytes)');
  const limit = opts.limitInputPixels ?? DEFAULT_PIXEL_LIMIT;
  try {
    const img = (await loadSharp())(bytes, { limitInputPixels: limit, failOn: 'error', ignoreIcc: true, autoOrient: opts.autoOrient ?? true, pages: 1 });
    const cmyk = (await img.metadata()).space === 'cmyk';
    if (cmyk) img.toColourspace('cmyk');
    const { data, info } = await img.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    const raw = { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: info.channels };
    return cmyk && info.channels === 4 ? cmykToRgb(raw) : toRgb(raw);
  } catch (err) {
    throw await classify(err, bytes, source, limit);
  }
}

/**
 * Why a decode failed. libvips' error text is process-global (concurrent decodes can mix or lose messages), so
 * the reason comes from the bytes where possible: the header (size), and the PNG / JPEG end markers.
 */
async function classify(err: unknown, bytes: Uint8Array, source: string, limit: number): Promise<ImageError> {
  if (err instanceof ImageError) return err;
  const msg = ((err as Error)?.message ?? String(err)).split('\n')[0];
  let meta: Sharp.Metadata;
  try {
    meta = await (await loadSharp())(bytes, { limitInputPixels: false }).metadata();
  } catch {
    const png = bytes.length >= 4 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
    const jpeg = bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
    if (png || jpeg) return new ImageError('truncated', source, `image data is truncated inside the ${png ? 'PNG' : 'JPEG'} header: ${msg}`, { cause: err });
    return new ImageError('unsupported_format', source, 'not an image, or a format sharp cannot decode', { cause: err });
  }
  const w = meta.autoOrient?.width ?? meta.width ?? 0;
  const h = meta.autoOrient?.height ?? meta.height ?? 0;
  if (limit && w * h > limit) {
    return new ImageError('too_large', source, `image is ${w}x${h}, over the pixel limit of ${limit} (limitInputPixels; a decompression bomb?)`, { cause: err });
  }
  const truncated =
    meta.format === 'png' ? !hasPngEnd(bytes) : meta.format === 'jpeg' ? !hasJpegEnd(bytes) : /premature end|truncat|end of (file|data|stream|input)|not enough data|unexpected end/i.test(msg);
  if (truncated) return new ImageError('truncated', source, `image data is truncated (${meta.format}): ${msg}`, { cause: err });
  return new ImageError('corrupt', source, `cannot decode image (${meta.format}): ${msg}`, { cause: err });
}

function hasPngEnd(b: Uint8Array): boolean {
  // ... 'IEND' + CRC as the last chunk
  const n = b.length;
  return n >= 12 && b[n - 8] === 0x49 && b[n - 7] === 0x45 && b[n - 6] === 0x4e && b[n - 5] === 0x44;
}

function hasJpegEnd(b: Uint8Array): boolean {
  // EOI (FF D9), allowing trailing padding bytes some writers append
  let n = b.length;
  while (n > 2 && (b[n - 1] === 0 || b[n - 1] === 0x0a || b[n - 1] === 0x0d || b[n - 1] === 0x20)) n--;
  return n >= 2 && b[n - 2] === 0xff && b[n - 1] === 0xd9;
}

function fromRaw(raw: RawPixels, source: string): RawImage {
  const { data, width, height } = raw;
  const channels = raw.channels ?? 3;
  if (!(data instanceof Uint8Array || data instanceof Uint8ClampedArray)) throw new ImageError('invalid_raw', source, 'raw pixel data must be a Uint8Array');
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) throw new ImageError('invalid_raw', source, `invalid raw size ${width}x${height}`);
  if (![1, 2, 3, 4].includes(channels)) throw new ImageError('invalid_raw', source, `raw channels must be 1, 2, 3 or 4, got ${channels}`);
  if (data.length !== width * height * channels) {
    throw new ImageError('invalid_raw', source, `raw data has ${data.length} bytes, ${width}x${height}x${channels} needs ${width * height * channels}`);
  }
  return toRgb({ data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width, height, channels });
}

/** PIL's CMYK -> RGB (Convert.c cmyk2rgb): R = (255 - K) * (1 - C / 255), no colour management. */
export function cmykToRgb(img: RawImage): RawImage {
  const n = img.width * img.height;
  const out = new Uint8Array(n * 3);
  const d = img.data;
  for (let i = 0; i < n; i++) {
    const nk = 255 - d[i * 4 + 3];
    for (let c = 0; c < 3; c++) {
      const tmp = d[i * 4 + c] * nk + 128; // MULDIV255
      const v = nk - ((tmp + (tmp >> 8)) >> 8);
      out[i * 3 + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return { data: out, width: img.width, height: img.height, channels: 3 };
}

/** PIL convert('RGB'): L / LA replicate the gray value, RGBA / LA drop alpha (no compositing). */
export function toRgb(img: RawImage): RawImage {
  const { data, width, height, channels: C } = img;
  if (C === 3) return img;
  const n = width * height;
  const out = new Uint8Array(n * 3);
  if (C === 1 || C === 2) {
    for (let i = 0; i < n; i++) out[i * 3] = out[i * 3 + 1] = out[i * 3 + 2] = data[i * C];
  } else {
    for (let i = 0; i < n; i++) {
      out[i * 3] = data[i * C];
      out[i * 3 + 1] = data[i * C + 1];
      out[i * 3 + 2] = data[i * C + 2];
    }
  }
  return { data: out, width, height, channels: 3 };
}
