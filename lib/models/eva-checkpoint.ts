// timm eva.py checkpoint_filter_fn: the original layouts eva.py loads (EVA-02 / EVA-CLIP (`visual.`), OpenCLIP
// (`visual.trunk.`), Perception Encoder (`_convert_pe`), DINOv3, MIM pretrain) converted to timm's state_dict.
// Renames, drops, and the tensor transforms (qkv bias thirds, PE's attention-pool in_proj rows, proj^T,
// class_embedding / positional_embedding reshapes) as timm does them. pos_embed resampling stays with the generic
// loader (lib/weights/load.ts); patch_embed resampling is not implemented (a mismatch is reported there).
import type { CheckpointTensor } from '../weights/checkpoint-tensor.ts';
import { toFloat32 } from '../weights/safetensors.ts';

interface EvaLike {
  params(): [string, number[]][];
}

const f32 = (shape: number[], data: Float32Array): CheckpointTensor => ({
  shape,
  dtype: 'F32',
  read: () => Buffer.from(data.buffer, data.byteOffset, data.byteLength),
});
const values = (t: CheckpointTensor) => toFloat32(t.read(), t.dtype);

/** Rows [r0, r1) of a tensor's first dim. */
function rows(t: CheckpointTensor, r0: number, r1: number): CheckpointTensor {
  const inner = t.shape.slice(1).reduce((a, b) => a * b, 1);
  return f32([r1 - r0, ...t.shape.slice(1)], values(t).slice(r0 * inner, r1 * inner));
}

/** Slice [c0, c1) of a 1-D tensor. */
const chunk = (t: CheckpointTensor, c0: number, c1: number) => f32([c1 - c0], values(t).slice(c0, c1));

function transpose2d(t: CheckpointTensor): CheckpointTensor {
  const [r, c] = t.shape;
  const v = values(t);
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = v[i * c + j];
  return f32([c, r], out);
}

const reshaped = (t: CheckpointTensor, shape: number[]): CheckpointTensor => ({ ...t, shape });

type Converted = { tensors: Map<string, CheckpointTensor>; dropped: string[] };

const PE_SWAPS: [string, string][] = [
  ['conv1', 'patch_embed.proj'],
  ['positional_embedding', 'pos_embed'],
  ['transformer.resblocks.', 'blocks.'],
  ['ln_pre', 'norm_pre'],
  ['ln_post', 'norm'],
  ['ln_', 'norm'],
  ['ls_1.gamma', 'gamma_1'],
  ['ls_2.gamma', 'gamma_2'],
  ['in_proj_', 'qkv.'],
  ['out_proj', 'proj'],
  ['mlp.c_fc', 'mlp.fc1'],
  ['mlp.c_proj', 'mlp.fc2'],
];

/** timm _convert_pe: Perception Encoder CLIP towers (`visual.` or bare). */
function convertPe(sd: Map<string, CheckpointTensor>, prefix: string): Converted {
  const out = new Map<string, CheckpointTensor>();
  const dropped: string[] = [];
  for (const [key, v] of sd) {
    if (prefix && !key.startsWith(prefix)) {
      dropped.push(key);
      continue;
    }
    let k = key.slice(prefix.length);
    for (const [a, b] of PE_SWAPS) k = k.replaceAll(a, b);
    if (k.startsWith('attn_pool')) {
      k = k.replaceAll('attn_pool.attn', 'attn_pool').replaceAll('attn_pool.layernorm', 'attn_pool.norm').replaceAll('attn_pool.probe', 'attn_pool.latent');
      if (k.startsWith('attn_pool.qkv')) {
        const dim = v.shape[0] / 3;
        const what = k.endsWith('weight') ? 'weight' : k.endsWith('bias') ? 'bias' : null;
        if (what) {
          out.set(`attn_pool.q.${what}`, rows(v, 0, dim));
          out.set(`attn_pool.kv.${what}`, rows(v, dim, 3 * dim));
        } else dropped.push(key);
        continue;
      }
    } else if (k === 'proj') {
      const w = transpose2d(v);
      out.set('head.weight', w);
      out.set('head.bias', f32([w.shape[0]], new Float32Array(w.shape[0])));
      continue;
    } else if (k === 'class_embedding') {
      out.set('cls_token', reshaped(v, [1, 1, ...v.shape]));
      continue;
    } else if (k === 'pos_embed') {
      out.set(k, reshaped(v, [1, ...v.shape]));
      continue;
    }
    out.set(k, v);
  }
  return { tensors: out, dropped };
}

const EVA_RENAMES: [string, string][] = [
  ['mlp.ffn_ln', 'mlp.norm'],
  ['attn.inner_attn_ln', 'attn.norm'],
  ['mlp.w12', 'mlp.fc1'],
  ['mlp.w1', 'mlp.fc1_g'],
  ['mlp.w2', 'mlp.fc1_x'],
  ['mlp.w3', 'mlp.fc2'],
];

/** timm eva.py checkpoint_filter_fn (after the generic container unwrapping). */
export function convertEvaCheckpoint(sd: Map<string, CheckpointTensor>, model: EvaLike): Converted {
  if (sd.has('visual.conv1.weight')) return convertPe(sd, 'visual.');
  if (sd.has('conv1.weight')) return convertPe(sd, '');
  const prefix = sd.has('visual.trunk.pos_embed') ? 'visual.trunk.' : sd.has('visual.pos_embed') ? 'visual.' : '';
  const dinov3 = sd.has('storage_tokens');
  const mim = !dinov3 && sd.has(`${prefix}mask_token`);
  const noQkv = sd.has(`${prefix}blocks.0.attn.q_proj.weight`);
  const own = new Set(model.params().map(([k]) => k));
  const out = new Map<string, CheckpointTensor>();
  const dropped: string[] = [];
  for (const [key, v] of sd) {
    if (prefix && !key.startsWith(prefix)) {
      dropped.push(key);
      continue;
    }
    let k = key.slice(prefix.length);
    // fixed (derived) rotary tables: never loaded
    if (k.includes('rope') && k !== 'rope.freqs') {
      dropped.push(key);
      continue;
    }
    if (dinov3) {
      const unused = ['.periods', '.bias_mask', 'mask_token'].some((f) => k.endsWith(f)) || k.startsWith('projectors.') || k.startsWith('local_cls_norm');
      if (unused) {
        dropped.push(key);
        continue;
      }
      if (k.endsWith('qkv.bias')) {
        const q = k.replace('qkv.bias', 'q_bias');
        // models without q / v bias drop it (the distilled checkpoints carry all-zero biases); k is fixed at 0
        if (own.has(q)) {
          const d = v.shape[0] / 3;
          out.set(q, chunk(v, 0, d));
          out.set(k.replace('qkv.bias', 'v_bias'), chunk(v, 2 * d, 3 * d));
        } else dropped.push(key);
        continue;
      }
      k = k.replaceAll('ls1.gamma', 'gamma_1').replaceAll('ls2.gamma', 'gamma_2').replaceAll('storage_tokens', 'reg_token');
    } else if (mim && ['mask_token', 'lm_head.weight', 'lm_head.bias', 'norm.weight', 'norm.bias'].includes(k)) {
      if (k === 'norm.weight' || k === 'norm.bias') k = k.replace('norm', 'fc_norm');
      else {
        dropped.push(key);
        continue;
      }
    }
    for (const [a, b] of EVA_RENAMES) k = k.replaceAll(a, b);
    if (noQkv) k = k.replaceAll('q_bias', 'q_proj.bias').replaceAll('v_bias', 'v_proj.bias');
    out.set(k, v);
  }
  return { tensors: out, dropped };
}
