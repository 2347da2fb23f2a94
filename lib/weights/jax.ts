// JAX / big_vision ViT .npz -> timm state_dict keys, as timm's VisionTransformer._load_weights
// (timm-vit-spec.md §4.6): prefix detection, HWIO -> OIHW and Dense [in, out] -> [out, in] transposes, per-head
// query/key/value kernels stacked into qkv, scanned (depth-stacked) blocks, hybrid ResNetV2 backbones (conv_root,
// block{i}/unit{j}); the loader resamples patch-size and position-grid differences. Tensors stay lazy: each
// read() pulls only its own arrays. An .npz without JAX names is read as a plain {timm key: array} state dict.
import { checkpointError, type ByteFile } from './byte-file.ts';
import type { CheckpointTensor } from './checkpoint-tensor.ts';
import { npyView, readNpyView, type NpyArray } from './npz.ts';
import { gather, numel, type View } from './strided.ts';
import type { ZipArchive } from './zip.ts';

interface Src {
  a: NpyArray;
  v: View;
}

const permute = (v: View, axes: number[]): View => ({ shape: axes.map((i) => v.shape[i]), strides: axes.map((i) => v.strides[i]), offset: v.offset });

export function jaxPrefix(arrays: Map<string, NpyArray>): string | null {
  for (const p of ['opt/target/', 'params/', 'params/img/', '']) if (arrays.has(`${p}embedding/kernel`)) return p;
  return null;
}

export function mapJax(file: ByteFile, zip: ZipArchive, arrays: Map<string, NpyArray>): { tensors: Map<string, CheckpointTensor>; skipped: string[] } {
  const path = file.path;
  const prefix = jaxPrefix(arrays);
  const tensors = new Map<string, CheckpointTensor>();
  if (prefix === null) {
    // not a JAX layout: array names are the state_dict keys
    for (const [name, a] of arrays) tensors.set(name, { shape: [...a.shape], dtype: a.dtype, read: () => readNpyView(zip, a, npyView(a)) });
    return { tensors, skipped: [] };
  }
  const used = new Set<string>();
  const has = (n: string) => arrays.has(prefix + n);
  /** timm's _n2p: optional leading index, [1,1,1,N] -> [N], transpose by rank when t. */
  const n2p = (n: string, t = true, idx?: number): Src => {
    const a = arrays.get(prefix + n);
    if (!a) throw checkpointError(path, `JAX checkpoint lacks '${prefix + n}'`);
    used.add(prefix + n);
    let v = npyView(a);
    if (idx !== undefined) {
      if (!v.shape.length || idx >= v.shape[0]) throw checkpointError(path, `'${prefix + n}' has no layer ${idx}`);
      v = { shape: v.shape.slice(1), strides: v.strides.slice(1), offset: v.offset + idx * v.strides[0] };
    }
    if (v.shape.length === 4 && v.shape[0] === 1 && v.shape[1] === 1 && v.shape[2] === 1) v = { shape: [v.shape[3]], strides: [v.strides[3]], offset: v.offset };
    if (t) {
      if (v.shape.length === 4) v = permute(v, [3, 2, 0, 1]);
      else if (v.shape.length === 3) v = permute(v, [2, 0, 1]);
      else if (v.shape.length === 2) v = permute(v, [1, 0]);
    }
    return { a, v };
  };
  const put = (key: string, s: Src, shape: number[] = [...s.v.shape]) => {
    if (numel(shape) !== numel(s.v.shape)) throw checkpointError(path, `'${key}': cannot view ${s.v.shape} as ${shape}`);
    tensors.set(key, { shape, dtype: s.a.dtype, read: () => readNpyView(zip, s.a, s.v) });
  };
  /** [rows, cols] -> [cols, rows] of a contiguous 2-D buffer. */
  const t2 = (buf: Buffer, rows: number, cols: number, es: number) => gather(buf, 0, { shape: [cols, rows], strides: [1, cols], offset: 0 }, es);
  const tryPut = (key: string, n: string, t = true, idx?: number, flat = false) => {
    if (!has(n)) return;
    const s = n2p(n, t, idx);
    put(key, s, flat ? [s.v.shape[0], numel(s.v.shape.slice(1))] : undefined);
  };

  /** Hybrid ResNetV2 backbone (R50+ViT-B_16.npz and the augreg R26 / R50 / Ti-stem hybrids), as timm's _load_weights
   *  maps it: conv_root + gn_root -> stem, block{i}/unit{j}/conv{r} + gn{r} -> stages.{i-1}.blocks.{j-1}.conv{r} +
   *  norm{r}, conv_proj + gn_proj -> downsample. A present unit or stem must be complete: a missing array is named.
   *  timm tells a stem-only backbone (no `stem.` level in its keys) from the model; here its file has no block{i}/. */
  const mapBackbone = () => {
    const units = new Map<string, [number, number]>();
    for (const name of arrays.keys()) {
      const m = name.startsWith(prefix) ? /^block(\d+)\/unit(\d+)\//.exec(name.slice(prefix.length)) : null;
      if (m) units.set(m[0], [Number(m[1]), Number(m[2])]);
    }
    if (!units.size && !has('conv_root/kernel')) return;
    const convNorm = (conv: string, norm: string, jaxConv: string, jaxNorm: string) => {
      put(`${conv}.weight`, n2p(`${jaxConv}/kernel`)); // HWIO -> OIHW
      put(`${norm}.weight`, n2p(`${jaxNorm}/scale`));
      put(`${norm}.bias`, n2p(`${jaxNorm}/bias`));
    };
    const bb = 'patch_embed.backbone.';
    const stem = units.size ? `${bb}stem.` : bb;
    convNorm(`${stem}conv`, `${stem}norm`, 'conv_root', 'gn_root');
    const sorted = [...units].sort(([, a], [, b]) => a[0] - b[0] || a[1] - b[1]);
    for (const [src, [i, j]] of sorted) {
      const dst = `${bb}stages.${i - 1}.blocks.${j - 1}.`;
      for (const r of [1, 2, 3]) convNorm(`${dst}conv${r}`, `${dst}norm${r}`, `${src}conv${r}`, `${src}gn${r}`);
      if (['conv_proj/kernel', 'gn_proj/scale', 'gn_proj/bias'].some((n) => has(src + n))) {
        convNorm(`${dst}downsample.conv`, `${dst}downsample.norm`, `${src}conv_proj`, `${src}gn_proj`);
      }
    }
  };
  mapBackbone();
  tryPut('patch_embed.proj.weight', 'embedding/kernel');
  tryPut('patch_embed.proj.bias', 'embedding/bias');
  tryPut('cls_token', 'cls', false);
  tryPut('pos_embed', has('pos_embedding') ? 'pos_embedding' : 'Transformer/posembed_input/pos_embedding', false);
  tryPut('norm.weight', 'Transformer/encoder_norm/scale');
  tryPut('norm.bias', 'Transformer/encoder_norm/bias');
  tryPut('head.weight', 'head/kernel');
  tryPut('head.bias', 'head/bias');
  tryPut('pre_logits.fc.weight', 'pre_logits/kernel');
  tryPut('pre_logits.fc.bias', 'pre_logits/bias');

  const scanned = has('Transformer/encoderblock/LayerNorm_0/scale');
  let depth = 0;
  if (scanned) depth = arrays.get(`${prefix}Transformer/encoderblock/LayerNorm_0/scale`)!.shape[0] ?? 0;
  else while (has(`Transformer/encoderblock_${depth}/LayerNorm_0/scale`)) depth++;
  for (let i = 0; i < depth; i++) {
    const bp = scanned ? 'Transformer/encoderblock/' : `Transformer/encoderblock_${i}/`;
    const idx = scanned ? i : undefined;
    // original Google ViT: MHA_1, MlpBlock_3, LayerNorm_2; big_vision: MHA_0, MlpBlock_0, LayerNorm_1
    const bv = has(`${bp}MultiHeadDotProductAttention_0/query/kernel`);
    const mha = `${bp}MultiHeadDotProductAttention_${bv ? 0 : 1}/`;
    const mlp = `${bp}MlpBlock_${bv ? 0 : 3}/`;
    const ln2 = `${bp}LayerNorm_${bv ? 1 : 2}/`;
    const b = `blocks.${i}.`;
    tryPut(`${b}norm1.weight`, `${bp}LayerNorm_0/scale`, true, idx);
    tryPut(`${b}norm1.bias`, `${bp}LayerNorm_0/bias`, true, idx);
    const qkv = ['query', 'key', 'value'];
    if (qkv.every((n) => has(`${mha}${n}/kernel`))) {
      const parts = qkv.map((n) => n2p(`${mha}${n}/kernel`, false, idx)); // [D, H, hd] each
      if (parts.some((p) => p.v.shape.length !== 3)) throw checkpointError(path, `block ${i}: query/key/value kernels are not [D, heads, head_dim]`);
      const D = parts[0].v.shape[0];
      const HD = numel(parts[0].v.shape.slice(1));
      if (parts.some((p) => p.v.shape[0] !== D || numel(p.v.shape.slice(1)) !== HD || p.a.dtype !== parts[0].a.dtype)) {
        throw checkpointError(path, `block ${i}: query/key/value kernels differ in shape or dtype`);
      }
      tensors.set(`${b}attn.qkv.weight`, {
        shape: [3 * HD, D],
        dtype: parts[0].a.dtype,
        read: () => Buffer.concat(parts.map((p) => t2(readNpyView(zip, p.a, p.v), D, HD, p.a.es))),
      });
    }
    if (qkv.every((n) => has(`${mha}${n}/bias`))) {
      const parts = qkv.map((n) => n2p(`${mha}${n}/bias`, false, idx));
      if (parts.some((p) => p.a.dtype !== parts[0].a.dtype)) throw checkpointError(path, `block ${i}: query/key/value biases differ in dtype`);
      tensors.set(`${b}attn.qkv.bias`, {
        shape: [parts.reduce((s, p) => s + numel(p.v.shape), 0)],
        dtype: parts[0].a.dtype,
        read: () => Buffer.concat(parts.map((p) => readNpyView(zip, p.a, p.v))),
      });
    }
    tryPut(`${b}attn.proj.weight`, `${mha}out/kernel`, true, idx, true);
    tryPut(`${b}attn.proj.bias`, `${mha}out/bias`, true, idx);
    tryPut(`${b}norm2.weight`, `${ln2}scale`, true, idx);
    tryPut(`${b}norm2.bias`, `${ln2}bias`, true, idx);
    for (const r of [0, 1]) {
      tryPut(`${b}mlp.fc${r + 1}.weight`, `${mlp}Dense_${r}/kernel`, true, idx);
      tryPut(`${b}mlp.fc${r + 1}.bias`, `${mlp}Dense_${r}/bias`, true, idx);
    }
  }
  const skipped = [...arrays.keys()].filter((k) => !used.has(k)).map((k) => `${k} (no timm equivalent mapped)`);
  return { tensors, skipped };
}
