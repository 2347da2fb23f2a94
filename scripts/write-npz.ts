// Writes a timm ViT state_dict as a JAX-style .npz — the original Google ViT layout or big_vision's (optionally
// scanned, optionally deflated) — the inverse of timm's _load_weights mapping (timm-vit-spec.md §4.6).
// Used by the tests (round trips) and the checkpoint-loading benchmark.
//   node --import=tsx scripts/write-npz.ts <in.safetensors> <out.npz> [original|big_vision|big_vision_scanned] [--compress]
import { writeFileSync } from 'node:fs';
import { crc32, deflateRawSync } from 'node:zlib';
import { readSafetensors } from '../lib/weights/safetensors.ts';

export type JaxLayout = 'original' | 'big_vision' | 'big_vision_scanned';
type T = { shape: readonly number[]; data: Float32Array };

function transpose(t: T, axes: number[]): T {
  const shape = axes.map((a) => t.shape[a]);
  const inStrides = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const out = new Float32Array(t.data.length);
  const idx = new Array(shape.length).fill(0);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let d = 0; d < shape.length; d++) src += idx[d] * inStrides[axes[d]];
    out[o] = t.data[src];
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return { shape, data: out };
}
const reshape = (t: T, shape: number[]): T => ({ shape, data: t.data });

/** timm keys -> JAX array names for one layout (heads: `numHeads`). */
export function toJax(sd: Map<string, T>, layout: JaxLayout, numHeads: number): Map<string, T> {
  const bv = layout !== 'original';
  const p = bv ? 'params/' : '';
  const out = new Map<string, T>();
  const get = (k: string) => {
    const v = sd.get(k);
    if (!v) throw new Error(`state_dict lacks ${k}`);
    return v;
  };
  out.set(`${p}embedding/kernel`, transpose(get('patch_embed.proj.weight'), [2, 3, 1, 0]));
  out.set(`${p}embedding/bias`, get('patch_embed.proj.bias'));
  if (sd.has('cls_token')) out.set(`${p}cls`, get('cls_token'));
  out.set(bv ? `${p}pos_embedding` : 'Transformer/posembed_input/pos_embedding', get('pos_embed'));
  out.set(`${p}Transformer/encoder_norm/scale`, get('norm.weight'));
  out.set(`${p}Transformer/encoder_norm/bias`, get('norm.bias'));
  if (sd.has('head.weight')) {
    out.set(`${p}head/kernel`, transpose(get('head.weight'), [1, 0]));
    out.set(`${p}head/bias`, get('head.bias'));
  }
  const depth = [...sd.keys()].filter((k) => /^blocks\.\d+\.norm1\.weight$/.test(k)).length;
  const [mha, mlp, ln2] = bv ? [0, 0, 1] : [1, 3, 2];
  const blocks: Map<string, T>[] = [];
  for (let i = 0; i < depth; i++) {
    const b = (k: string) => get(`blocks.${i}.${k}`);
    const m = new Map<string, T>();
    const D = b('norm1.weight').shape[0];
    const hd = D / numHeads;
    m.set('LayerNorm_0/scale', b('norm1.weight'));
    m.set('LayerNorm_0/bias', b('norm1.bias'));
    const qkvW = b('attn.qkv.weight');
    const qkvB = sd.get(`blocks.${i}.attn.qkv.bias`);
    ['query', 'key', 'value'].forEach((n, j) => {
      const w = { shape: [D, D], data: qkvW.data.slice(j * D * D, (j + 1) * D * D) };
      m.set(`MultiHeadDotProductAttention_${mha}/${n}/kernel`, reshape(transpose(w, [1, 0]), [D, numHeads, hd]));
      const bias = qkvB ? qkvB.data.slice(j * D, (j + 1) * D) : new Float32Array(D);
      m.set(`MultiHeadDotProductAttention_${mha}/${n}/bias`, { shape: [numHeads, hd], data: bias });
    });
    m.set(`MultiHeadDotProductAttention_${mha}/out/kernel`, reshape(transpose(b('attn.proj.weight'), [1, 0]), [numHeads, hd, D]));
    m.set(`MultiHeadDotProductAttention_${mha}/out/bias`, b('attn.proj.bias'));
    m.set(`LayerNorm_${ln2}/scale`, b('norm2.weight'));
    m.set(`LayerNorm_${ln2}/bias`, b('norm2.bias'));
    for (const r of [0, 1]) {
      m.set(`MlpBlock_${mlp}/Dense_${r}/kernel`, transpose(b(`mlp.fc${r + 1}.weight`), [1, 0]));
      m.set(`MlpBlock_${mlp}/Dense_${r}/bias`, b(`mlp.fc${r + 1}.bias`));
    }
    blocks.push(m);
  }
  if (layout === 'big_vision_scanned') {
    for (const k of blocks[0].keys()) {
      const parts = blocks.map((m) => m.get(k)!);
      const data = new Float32Array(parts.reduce((a, x) => a + x.data.length, 0));
      parts.forEach((x, i) => data.set(x.data, i * x.data.length));
      out.set(`${p}Transformer/encoderblock/${k}`, { shape: [depth, ...parts[0].shape], data });
    }
  } else {
    blocks.forEach((m, i) => m.forEach((v, k) => out.set(`${p}Transformer/encoderblock_${i}/${k}`, v)));
  }
  return out;
}

/** One .npy file (format 1.0, little-endian float32, C order). */
export function npyBytes(t: T): Buffer {
  const shape = t.shape.length === 1 ? `(${t.shape[0]},)` : `(${t.shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const pre = Buffer.alloc(10);
  Buffer.from('\x93NUMPY', 'latin1').copy(pre);
  pre[6] = 1;
  pre.writeUInt16LE(header.length, 8);
  return Buffer.concat([pre, Buffer.from(header, 'latin1'), Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)]);
}

/** A zip of named files (stored or deflated), like numpy.savez / savez_compressed. */
export function zipBytes(files: [string, Buffer][], compress: boolean): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let off = 0;
  for (const [name, data] of files) {
    const n = Buffer.from(name, 'utf8');
    const body = compress ? deflateRawSync(data) : data;
    const crc = crc32(data) >>> 0;
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(compress ? 8 : 0, 8);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(body.length, 18);
    lh.writeUInt32LE(data.length, 22);
    lh.writeUInt16LE(n.length, 26);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(20, 4);
    ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(compress ? 8 : 0, 10);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(body.length, 20);
    ch.writeUInt32LE(data.length, 24);
    ch.writeUInt16LE(n.length, 28);
    ch.writeUInt32LE(off, 42);
    locals.push(lh, n, body);
    central.push(ch, n);
    off += 30 + n.length + body.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(off, 16);
  return Buffer.concat([...locals, cd, end]);
}

export function writeJaxNpz(path: string, sd: Map<string, T>, layout: JaxLayout, numHeads: number, compress = false): void {
  const arrays = toJax(sd, layout, numHeads);
  writeFileSync(path, zipBytes([...arrays].map(([k, v]) => [`${k}.npy`, npyBytes(v)]), compress));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [inp, out, layout = 'original', ...flags] = process.argv.slice(2);
  if (!inp || !out) {
    console.error('usage: write-npz.ts <in.safetensors> <out.npz> [original|big_vision|big_vision_scanned] [--compress] [--heads N]');
    process.exit(2);
  }
  const h = flags.indexOf('--heads');
  const sd = readSafetensors(inp);
  const heads = h >= 0 ? Number(flags[h + 1]) : sd.get('blocks.0.norm1.weight')!.shape[0] / 64;
  writeJaxNpz(out, sd, layout as JaxLayout, heads, flags.includes('--compress'));
}
