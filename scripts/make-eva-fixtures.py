"""Developer tool: timm ground truth for timm's eva.py (EVA, EVA-02, Perception Encoder, RoPE-ViT, DINOv3, LingBot)
in test/fixtures/eva/.

Same format and weight-randomisation rules as scripts/make-family-fixtures.py (test/fixtures/families/): every case is
`timm.create_model(architecture, pretrained=False, num_classes=5, **model_args)` for a real eva.py architecture (its
entrypoint options apply beneath model_args) with the sizes shrunk (16 px, patch 4 -> a 4x4 grid unless a case says
otherwise, width 24, depth 2, 2 heads -> head_dim 12), every parameter re-drawn from seeded normals (norm weights
1 + 0.25 N, norm / linear / q / v biases 0.2 N, LayerScale gammas 0.5 + 0.25 N, linear weights N / sqrt(fan_in) with the
MLP input projections at twice that, attention-pool latent N, RoPE-Mixed frequencies N; the embedding (patch
projection, cls / reg tokens, attn_pool.proj and post-norm blocks' attn.proj / mlp.fc2 at 0.01, pos_embed at 0.005)
small so that the norms fed by them have a visible eps).
Outputs are computed in float64 (the float32 weights widened exactly) and stored as float32.

Some cases also get a checkpoint in the ORIGINAL release layout (`<case>.orig.safetensors`: EVA-02 fine-tune, EVA-CLIP,
Perception Encoder CLIP, DINOv3) that timm's `eva.checkpoint_filter_fn` converts into exactly that case's state_dict
(checked here and in scripts/check-eva-fixtures.py).

Needs python3 + torch + timm (1.0.29) + safetensors; tests never run it. timm is imported as bench/torch_peer.py does
(an inert torchvision stand-in where the installed torchvision cannot load).
Usage: python3 scripts/make-eva-fixtures.py [--out DIR]
"""
import argparse
import functools
import json
import math
import os
import sys
import zlib

import torch
import torch.nn as nn
from safetensors.torch import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'bench'))
from torch_peer import import_timm  # noqa: E402

timm = import_timm()
if timm is None:
    raise SystemExit('timm is not importable')
import timm.layers as tl  # noqa: E402
import timm.models.eva as ev  # noqa: E402

OUT = os.path.join(ROOT, 'test', 'fixtures', 'eva')
NUM_CLASSES = 5
BATCH = 2
# Tiny dims shared by every case (a case may override img_size / embed_dim / num_heads).
T = dict(img_size=16, patch_size=4, embed_dim=24, depth=2, num_heads=2)


def case(name, arch, args, why, covers, group=None, extra_sizes=(), native=True, orig=None, zero=()):
    """One model config. Cases of one `group` share one weights file (same state_dict keys); each gets an io file at
    the native img_size (unless native=False) and one per extra (H, W) input size. `orig` names an original-layout
    converter below (the case's weights written as the original repository names them); `zero` lists state_dict keys
    set to 0 because the original layout has no such tensor (timm's converter fills in zeros)."""
    return dict(name=name, arch=arch, args=dict(T, **args), why=why, covers=covers, group=group or name,
                extra_sizes=[tuple(s) for s in extra_sizes], native=native, orig=orig, zero=list(zero))


CASES = [
    # ---- EVA (EVA-01) ----------------------------------------------------------------------------------------------
    case('eva_giant', 'eva_giant_patch14_224', {},
         'EVA-01 giant: EvaAttention with fused qkv (no bias) + q_bias / v_bias (k bias a zero buffer), class token + '
         'abs pos_embed, plain Mlp GELU (mlp_ratio 6144/1408 -> hidden int(24 * 4.3636) = 104), no rope, '
         "global_pool 'avg' -> fc_norm on the mean of the patch tokens, no final norm; LayerNorm eps 1e-6",
         ['EvaAttention', 'q_bias/v_bias', 'use_abs_pos_emb', 'class_token', 'Mlp', 'global_pool=avg',
          'use_fc_norm=None->True']),
    case('eva_giant_clip_token', 'eva_giant_patch14_clip_224', {},
         "EVA-CLIP giant tower: as eva_giant but global_pool 'token' -> final norm on the sequence, no fc_norm",
         ['global_pool=token', 'use_fc_norm=None->False', 'norm']),
    case('eva02_enormous_postnorm', 'eva02_enormous_patch14_clip_224', {},
         'EVA-02-CLIP enormous: use_post_norm -> EvaBlockPostNorm (x + norm1(attn(x)), x + norm2(mlp(x))), plain Mlp '
         '(mlp_ratio 15360/1792 -> hidden int(24 * 8.5714) = 205), no rope, token pool',
         ['use_post_norm', 'EvaBlockPostNorm', 'global_pool=token']),

    # ---- EVA-02 ----------------------------------------------------------------------------------------------------
    case('eva02_tiny', 'eva02_tiny_patch14_224', dict(img_size=[24, 16]),
         "EVA-02 tiny/small: rope 'cat' (RotaryEmbeddingCat, temperature 1e4, grid 'ij', positions scaled by "
         'ref_feat_shape (16, 16) / grid (6, 4): a non-square static table), swiglu_mlp without scale_mlp -> packed '
         'GluMlp (fc1 [2 * 64, D], silu(first half) * second half, fc2 [D, 64]), fused qkv + q/v bias, abs pos, avg '
         '-> fc_norm', ['use_rot_pos_emb', 'rope_type=cat', 'ref_feat_shape', 'swiglu_mlp', 'GluMlp',
                        'non-square grid']),
    case('eva02_base', 'eva02_base_patch14_224', {},
         'EVA-02 base/large: qkv_fused=False (q_proj with bias, k_proj without, v_proj with bias), swiglu_mlp + '
         'scale_mlp -> SwiGLU (fc1_g, fc1_x, norm over hidden 64, fc2), rope cat from ref_feat_shape (16, 16) on a 4x4 '
         'grid, abs pos, avg -> fc_norm',
         ['qkv_fused=False', 'swiglu_mlp', 'scale_mlp', 'SwiGLU', 'use_rot_pos_emb', 'ref_feat_shape'],
         group='eva02_base', orig='eva02'),
    case('eva02_base_dynamic', 'eva02_base_patch14_224', dict(dynamic_img_size=True),
         'the eva02_base weights with dynamic_img_size: the rope table rebuilt for a 6x3 grid from the cached bands '
         '(positions i / 6 * 16, j / 3 * 16), pos_embed resampled bicubic with 1 prefix row kept',
         ['dynamic_img_size', 'rope rebuilt per grid', 'pos_embed resample'], group='eva02_base',
         extra_sizes=[(24, 12)], native=False),
    case('eva02_clip_base', 'eva02_base_patch16_clip_224', {},
         'EVA-02-CLIP base/large towers: eva02_base + scale_attn_inner (attn.norm over the merged heads before proj), '
         "global_pool 'token' -> final norm, no fc_norm", ['scale_attn_inner', 'global_pool=token', 'qkv_fused=False',
                                                          'scale_mlp'], orig='eva_clip'),

    # ---- timm SBB ViTs with rope (Eva class) ------------------------------------------------------------------------
    case('sbb_rope_reg1_gap', 'vit_medium_patch16_rope_reg1_gap_256', {},
         'timm SBB medium/base: no class token, 1 reg token, no abs pos (rope only, cat, ref (16, 16)), LayerScale '
         '(gamma_1 / gamma_2), fused qkv + q/v bias, avg over the patch tokens (reg excluded) -> fc_norm',
         ['class_token=False', 'num_reg_tokens', 'use_abs_pos_emb=False', 'init_values']),
    case('sbb_rope_reg1_gap_noqkvbias', 'vit_mediumd_patch16_rope_reg1_gap_256', {},
         'timm SBB mediumd: as sbb_rope_reg1_gap with qkv_bias=False (no q_bias / v_bias)',
         ['qkv_bias=False', 'num_reg_tokens']),
    case('sbb_rope_reg4_gap', 'vit_betwixt_patch16_rope_reg4_gap_256', {},
         'timm SBB betwixt: 4 reg tokens, no class token: rope skips the 4 prefix tokens, avg excludes them',
         ['num_reg_tokens=4', 'class_token=False']),

    # ---- Perception Encoder ------------------------------------------------------------------------------------------
    case('pe_core', 'vit_pe_core_tiny_patch16_384', {},
         "PE core tiny..large: attn_type 'rope' (AttentionRope, fused qkv with a full bias), use_pre_transformer_norm "
         "(norm_pre, patch conv without bias), class token + abs pos, rope cat 'xy' with grid_offset 1 and "
         "ref_feat_shape (24, 24), global_pool 'map' (AttentionPoolLatent: 8 heads, mlp_ratio 4, over ALL tokens, "
         'class token included), final norm, head = the CLIP projection (bias 0: the original has none); LayerNorm eps '
         '1e-5', ['attn_type=rope', 'use_pre_transformer_norm', 'rope_grid_indexing=xy', 'rope_grid_offset',
                  'global_pool=map', 'attn_pool_num_heads', 'attn_pool_mlp_ratio'],
         group='pe_core', orig='pe', zero=['head.bias']),
    case('pe_core_dynamic', 'vit_pe_core_tiny_patch16_384', dict(dynamic_img_size=True),
         "the pe_core weights with dynamic_img_size: 'xy' rope rebuilt for a 3x5 grid (offset 1, ref 24 / 3 and "
         '24 / 5), pos_embed resampled with the class row kept', ['dynamic_img_size', 'rope_grid_indexing=xy'],
         group='pe_core', extra_sizes=[(12, 20)], native=False),
    case('pe_core_gigantic', 'vit_pe_core_gigantic_patch14_448', dict(img_size=[16, 24]),
         'PE core gigantic: no class token (nothing skipped by rope, map over the patches), rope offset 0, ref '
         '(32, 32), '
         'mlp_ratio 8960/1536 (hidden 140) with attn_pool_mlp_ratio 4; non-square static grid 4x6 under xy',
         ['class_token=False', 'rope_grid_offset=0', 'global_pool=map', 'non-square grid']),
    case('pe_lang', 'vit_pe_lang_large_patch14_448', {},
         'PE lang large: class token, LayerScale (init 0.1), use_post_transformer_norm=False and use_fc_norm=False: '
         "no norm after the blocks at all, global_pool 'avg' over the patch tokens (class token excluded)",
         ['use_post_transformer_norm=False', 'use_fc_norm=False', 'init_values', 'global_pool=avg']),
    case('pe_lang_gigantic', 'vit_pe_lang_gigantic_patch14_448', {},
         'PE lang / spatial gigantic: no class token, rope offset 0, LayerScale, no final norm, avg over all tokens',
         ['class_token=False', 'use_post_transformer_norm=False', 'init_values']),
    case('pe_spatial', 'vit_pe_spatial_tiny_patch16_512', {},
         'PE spatial tiny..large: as pe_lang without LayerScale', ['use_post_transformer_norm=False',
                                                                  'use_fc_norm=False']),

    # ---- RoPE-ViT (naver) -------------------------------------------------------------------------------------------
    case('rope_axial', 'vit_small_patch16_rope_224', dict(img_size=[16, 24]),
         "RoPE-ViT axial: AttentionRope (qkv bias), rope cat 'xy', temperature 100, integer positions (no "
         'ref_feat_shape, offset 0), no abs pos, class token (skipped by rope), LayerScale, token pool -> final norm; '
         'non-square static grid 4x6', ['rope_temperature', 'rope_grid_indexing=xy', 'use_abs_pos_emb=False',
                                        'global_pool=token', 'non-square grid']),
    case('rope_axial_ape', 'vit_small_patch16_rope_ape_224', {},
         'RoPE-ViT axial + APE: no_embed_class abs pos_embed (patch rows only, added before the class token is '
         'prepended) together with rope', ['no_embed_class', 'use_abs_pos_emb', 'use_rot_pos_emb']),
    case('rope_mixed', 'vit_small_patch16_rope_mixed_224', {},
         "RoPE-ViT mixed: rope_type 'mixed' (RotaryEmbeddingMixed: learnable rope.freqs [2, depth, heads, hd / 2], a "
         "separate table per block and head; grid 'xy'; temperature only initialises the freqs), no abs pos",
         ['rope_type=mixed', 'rope.freqs']),
    case('rope_mixed_ape', 'vit_small_patch16_rope_mixed_ape_224', {},
         'RoPE-ViT mixed + APE (no_embed_class)', ['rope_type=mixed', 'no_embed_class'], group='rope_mixed_ape'),
    case('rope_mixed_ape_dynamic', 'vit_small_patch16_rope_mixed_ape_224', dict(dynamic_img_size=True),
         'the rope_mixed_ape weights with dynamic_img_size: mixed tables for a 6x3 grid, pos_embed resampled with 0 '
         'prefix rows', ['dynamic_img_size', 'rope_type=mixed'], group='rope_mixed_ape', extra_sizes=[(24, 12)],
         native=False),

    # ---- DINOv3 / LingBot --------------------------------------------------------------------------------------------
    case('dinov3', 'vit_small_patch16_dinov3', {},
         "DINOv3 S/B/L: rope_type 'dinov3' (0.5-centred coords normalised per axis to [-1, 1], periods 100^(4k/hd), "
         'tiled half layout, eval mode: no shift / jitter / rescale), rope_rotate_half, class + 4 reg tokens (rope '
         'skips all 5), no abs pos, LayerScale, EvaAttention without q/v bias, dynamic_img_size (native), '
         "global_pool 'avg' over the patches with use_fc_norm=False -> final norm; LayerNorm eps 1e-5",
         ['rope_type=dinov3', 'rope_rotate_half', 'num_reg_tokens=4', 'dynamic_img_size', 'use_fc_norm=False',
          'qkv_bias=False'], extra_sizes=[(24, 12)]),
    case('dinov3_qkvb', 'vit_small_patch16_dinov3_qkvb', {},
         'DINOv3 _qkvb (tiny/small/base/large): q_bias / v_bias', ['qkv_bias', 'rope_type=dinov3'],
         group='dinov3_qkvb'),
    case('lingbot_token', 'vit_small_patch16_lingbot', {},
         "LingBot small/base/large: the dinov3_qkvb weights with global_pool 'token'", ['global_pool=token',
                                                                                       'rope_type=dinov3'],
         group='dinov3_qkvb', extra_sizes=[(12, 20)]),
    case('dinov3_plus', 'vit_small_plus_patch16_dinov3', {},
         'DINOv3 S+/H+: swiglu_mlp with swiglu_align_to 8 -> SwiGLU (fc1_g, fc1_x, fc2; no norm), no q/v bias',
         ['swiglu_mlp', 'swiglu_align_to', 'SwiGLU']),
    case('dinov3_plus_qkvb', 'vit_small_plus_patch16_dinov3_qkvb', {},
         'DINOv3 S+/H+ _qkvb: SwiGLU + q/v bias', ['swiglu_mlp', 'qkv_bias', 'swiglu_align_to'], orig='dinov3'),
    case('dinov3_7b', 'vit_7b_patch16_dinov3', {},
         'DINOv3 7B: mlp_ratio 2 with swiglu_align_to 64 -> hidden int(24 * 2) = 48 rounded up to 64',
         ['swiglu_align_to=64', 'mlp_ratio']),
    case('lingbot_giant', 'vit_giant_patch16_lingbot', {},
         'LingBot giant: SwiGLU with swiglu_align_to 8 and mlp_ratio 8/3 (hidden int(24 * 8/3) = 64, already aligned: '
         'dinov3_7b shows the rounding), no q/v bias, token pool', ['swiglu_align_to', 'global_pool=token']),
]


# ---- helpers -----------------------------------------------------------------------------------------------------

def describe(v):
    """JSON-able description of an argument Eva received (classes and partials by timm's names)."""
    if isinstance(v, functools.partial):
        kw = ', '.join(f'{k}={describe(x)}' for k, x in v.keywords.items())
        return f'{describe(v.func)}({kw})'
    if isinstance(v, type) or callable(v):
        return getattr(v, '__name__', repr(v))
    if isinstance(v, tuple):
        return [describe(x) for x in v]
    return v


_captured = {}
_orig_init = ev.Eva.__init__


def _capturing_init(self, *a, **kw):
    _captured.clear()
    _captured.update(kw)
    return _orig_init(self, *a, **kw)


ev.Eva.__init__ = _capturing_init


def build(arch, args):
    model = timm.create_model(arch, pretrained=False, num_classes=NUM_CLASSES, **args)
    assert type(model) is ev.Eva, type(model)
    effective = {k: describe(v) for k, v in _captured.items() if k not in ('device', 'dtype')}
    return model.eval(), effective


def entrypoint_args(arch):
    with torch.device('meta'):
        build(arch, {})
    return {k: describe(v) for k, v in _captured.items()
            if k not in ('device', 'dtype', 'num_classes', 'in_chans', 'img_size')}


def seed_of(s):
    return zlib.crc32(s.encode())


NORMS = (nn.LayerNorm, tl.RmsNorm)
# See make-family-fixtures.py: the embedding at ~0.01 scale makes the first norm's eps visible.
EMBED = 0.01


def randomize(model, seed):
    """Every parameter from seeded normals, scaled so that activations stay O(1) and nothing is an identity."""
    g = torch.Generator().manual_seed(seed)
    mods = dict(model.named_modules())
    sd_keys = set(model.state_dict().keys())
    names = [n for n, _ in model.named_parameters()]
    assert sd_keys == set(names), sd_keys ^ set(names)  # every buffer of Eva is non-persistent
    with torch.no_grad():
        for name, p in model.named_parameters():
            mod_name, _, pname = name.rpartition('.')
            m = mods[mod_name]
            r = torch.randn(p.shape, generator=g, dtype=torch.float32)
            small = mod_name in ('patch_embed.proj', 'attn_pool.proj')
            # post-norm blocks (EvaBlockPostNorm) normalise attn(x) and mlp(x) directly: their output projections
            # at the embedding scale make those norms' eps visible too
            if mod_name.endswith(('.attn.proj', '.mlp.fc2')) and isinstance(mods[mod_name.rsplit('.', 2)[0]],
                                                                             ev.EvaBlockPostNorm):
                small = True
            wide = pname == 'weight' and mod_name.rpartition('.')[2] in ('fc1', 'fc1_g', 'fc1_x')
            if isinstance(m, NORMS):
                v = 1 + 0.25 * r if pname == 'weight' else 0.2 * r
            elif isinstance(m, (nn.Linear, nn.Conv2d)):
                v = r * (p[0].numel() ** -0.5) if pname == 'weight' else 0.2 * r
                v = v * (EMBED if small else 2 if wide else 1)
            elif pname in ('gamma_1', 'gamma_2'):  # Eva's LayerScale (plain parameters of the block)
                v = 0.5 + 0.25 * r
            elif pname in ('q_bias', 'v_bias'):
                v = 0.2 * r
            elif pname in ('cls_token', 'reg_token'):
                v = EMBED * r
            elif pname == 'pos_embed':
                v = 0.5 * EMBED * r
            elif pname == 'latent':
                v = r
            elif name == 'rope.freqs':  # RotaryEmbeddingMixed's learnable frequencies
                v = r
            else:
                raise ValueError(f'no init rule for {name} ({type(m).__name__})')
            p.copy_(v)


def to_double(model):
    """model.double(), except RotaryEmbeddingMixed's cached grid: timm computes mixed tables in float32
    (get_mixed_freqs takes freqs.float()) and its cached t_x / t_y buffers must stay float32 for that matmul."""
    m = model.double()
    rope = getattr(m, 'rope', None)
    if isinstance(rope, tl.RotaryEmbeddingMixed) and rope.t_x is not None:
        rope.t_x, rope.t_y = rope.t_x.float(), rope.t_y.float()
    return m


def run(model, x):
    """timm's outputs in float64 (model and input widened), returned as float32."""
    m = to_double(model)
    x = x.double()
    with torch.no_grad():
        logits = m(x)
        feats = m.forward_features(x)
        out = {'logits': logits, 'features': feats, 'pre_logits': m.forward_head(feats, pre_logits=True)}
        assert torch.equal(m.forward_head(feats), logits)
        inter = m.forward_intermediates(x, indices=None, norm=False, output_fmt='NCHW', intermediates_only=True)
        for i, t in enumerate(inter):
            out[f'intermediates.{i}'] = t
        inter = m.forward_intermediates(x, indices=[0, -1], norm=True, output_fmt='NLC', intermediates_only=True)
        for i, t in enumerate(inter):
            out[f'intermediates_norm_nlc.{i}'] = t
    model.float()
    return {k: v.float().contiguous() for k, v in out.items()}


# ---- original release layouts --------------------------------------------------------------------------------------
# Each converter takes the case's timm state_dict (and model) and returns the state_dict as the original repository
# names it, plus a description. timm's eva.checkpoint_filter_fn must map it back to exactly the case's state_dict
# (keys listed in `keys_from_case` excepted: the original has no such tensor, e.g. DINOv3's backbone has no head).

def _eva_rope_buffers(hd, grid, pt_seq_len):
    """EVA-02 / EVA-CLIP VisionRotaryEmbeddingFast buffers (persistent in their checkpoints): freqs_cos / freqs_sin
    [ft * ft, hd] for a square ft x ft grid interpolated from pt_seq_len (EVA-02/asuka/rope.py's formula)."""
    ft = grid
    dim = hd // 2
    freqs = 1.0 / (10000 ** (torch.arange(0, dim, 2)[:dim // 2].float() / dim))
    t = torch.arange(ft) / ft * pt_seq_len
    f = torch.einsum('i,f->if', t, freqs).repeat_interleave(2, -1)  # [ft, dim]
    f = torch.cat([f[:, None, :].expand(ft, ft, dim), f[None, :, :].expand(ft, ft, dim)], -1)  # [ft, ft, hd]
    return f.cos().reshape(-1, hd).contiguous(), f.sin().reshape(-1, hd).contiguous()


def _eva02_names(sd):
    """timm Eva (qkv_fused=False, SwiGLU + scale_mlp) -> EVA-02 / EVA-CLIP block names."""
    out = {}
    for k, v in sd.items():
        k2 = k
        for a, b in (('attn.q_proj.bias', 'attn.q_bias'), ('attn.v_proj.bias', 'attn.v_bias'),
                     ('mlp.fc1_g.', 'mlp.w1.'), ('mlp.fc1_x.', 'mlp.w2.'), ('mlp.norm.', 'mlp.ffn_ln.'),
                     ('mlp.fc2.', 'mlp.w3.'), ('attn.norm.', 'attn.inner_attn_ln.')):
            k2 = k2.replace(a, b)
        out[k2] = v
    return out


def orig_eva02(sd, model, c):
    """EVA-02 fine-tuned checkpoint (baaivision/EVA EVA-02/asuka/modeling_finetune.py, subln + naiveswiglu: base/large;
    the released .pt files hold {'model': state_dict}, stored flat here)."""
    depth = len(model.blocks)
    hd = model.blocks[0].attn.head_dim
    grid = model.patch_embed.grid_size
    assert grid[0] == grid[1]
    out = _eva02_names(sd)
    cos, sin = _eva_rope_buffers(hd, grid[0], 16)
    # the shared rope module is registered under the model and under every block's attention
    out['rope.freqs_cos'], out['rope.freqs_sin'] = cos, sin
    for i in range(depth):
        out[f'blocks.{i}.attn.rope.freqs_cos'], out[f'blocks.{i}.attn.rope.freqs_sin'] = cos.clone(), sin.clone()
    return out, dict(
        layout='EVA-02 fine-tune (baaivision/EVA, EVA-02/asuka/modeling_finetune.py: subln, naiveswiglu, rope)',
        renames={'attn.q_proj.bias': 'attn.q_bias (F.linear bias of q_proj)', 'attn.v_proj.bias': 'attn.v_bias',
                 'mlp.fc1_g': 'mlp.w1', 'mlp.fc1_x': 'mlp.w2', 'mlp.norm': 'mlp.ffn_ln', 'mlp.fc2': 'mlp.w3'},
        dropped=['rope.freqs_cos', 'rope.freqs_sin', 'blocks.N.attn.rope.freqs_cos', 'blocks.N.attn.rope.freqs_sin'],
        note='k_proj has no bias in the original either; the rope buffers (EVA formula, pt_seq_len 16) equal timm\'s '
             'cat table halves and are dropped by the converter; the release files wrap this dict as '
             "{'model': ...} (the converter unwraps 'model_ema' / 'model' / 'module' / 'state_dict')")


def orig_eva_clip(sd, model, c):
    """EVA-CLIP checkpoint (baaivision/EVA EVA-CLIP eva_vit_model.py): the vision tower under 'visual.', beside the
    text tower and logit_scale."""
    depth = len(model.blocks)
    hd = model.blocks[0].attn.head_dim
    grid = model.patch_embed.grid_size
    assert grid[0] == grid[1]
    vis = _eva02_names(sd)
    cos, sin = _eva_rope_buffers(hd, grid[0], 16)
    vis['rope.freqs_cos'], vis['rope.freqs_sin'] = cos, sin
    for i in range(depth):
        vis[f'blocks.{i}.attn.rope.freqs_cos'], vis[f'blocks.{i}.attn.rope.freqs_sin'] = cos.clone(), sin.clone()
    out = {'visual.' + k: v for k, v in vis.items()}
    g = torch.Generator().manual_seed(seed_of('orig-text/' + c['name']))
    D = sd['head.weight'].shape[0]  # the shared CLIP embedding width (here num_classes)
    # a shrunk stand-in for the text tower (only to show that everything outside 'visual.' is ignored)
    for k, shape in (('text.token_embedding.weight', (8, 8)), ('text.positional_embedding', (4, 8)),
                     ('text.ln_final.weight', (8,)), ('text.ln_final.bias', (8,)),
                     ('text.text_projection', (8, D))):
        out[k] = torch.randn(shape, generator=g)
    out['logit_scale'] = torch.tensor(math.log(1 / 0.07))
    return out, dict(
        layout="EVA-CLIP (baaivision/EVA, EVA-CLIP eva_vit_model.py: subln + naiveswiglu + rope, tower under "
               "'visual.')",
        renames={'attn.q_proj.bias': 'attn.q_bias', 'attn.v_proj.bias': 'attn.v_bias',
                 'attn.norm': 'attn.inner_attn_ln',
                 'mlp.fc1_g': 'mlp.w1', 'mlp.fc1_x': 'mlp.w2', 'mlp.norm': 'mlp.ffn_ln', 'mlp.fc2': 'mlp.w3',
                 '<key>': 'visual.<key>'},
        dropped=['visual.rope.*', 'visual.blocks.N.attn.rope.*', 'text.* (a shrunk stand-in)', 'logit_scale'],
        note="prefix 'visual.' detected from 'visual.pos_embed'; head = the CLIP projection Linear(D, embed_dim)")


def orig_pe(sd, model, c):
    """Perception Encoder CLIP checkpoint (facebookresearch/perception_models core/vision_encoder/pe.py): the vision
    tower under 'visual.' beside the text tower (top level) and logit_scale."""
    assert not sd['head.bias'].any()
    D = model.embed_dim
    vis = {}
    for k, v in sd.items():
        if k == 'head.bias':
            continue
        if k == 'head.weight':
            vis['proj'] = v.t().contiguous()  # x @ proj
            continue
        if k == 'cls_token':
            vis['class_embedding'] = v.reshape(D)
            continue
        if k == 'pos_embed':
            vis['positional_embedding'] = v[0]
            continue
        if k.startswith('attn_pool.'):
            rest = k[len('attn_pool.'):]
            if rest == 'latent':
                vis['attn_pool.probe'] = v
            elif rest.startswith(('q.', 'kv.')):
                continue  # merged below into nn.MultiheadAttention's in_proj
            elif rest.startswith('proj.'):
                vis['attn_pool.attn.out_proj.' + rest[5:]] = v
            elif rest.startswith('norm.'):
                vis['attn_pool.layernorm.' + rest[5:]] = v
            elif rest.startswith('mlp.fc1.'):
                vis['attn_pool.mlp.c_fc.' + rest[8:]] = v
            elif rest.startswith('mlp.fc2.'):
                vis['attn_pool.mlp.c_proj.' + rest[8:]] = v
            else:
                raise KeyError(k)
            continue
        k2 = k
        for a, b in (('patch_embed.proj', 'conv1'), ('norm_pre.', 'ln_pre.'), ('blocks.', 'transformer.resblocks.'),
                     ('.norm1.', '.ln_1.'), ('.norm2.', '.ln_2.'), ('.attn.qkv.weight', '.attn.in_proj_weight'),
                     ('.attn.qkv.bias', '.attn.in_proj_bias'), ('.attn.proj.', '.attn.out_proj.'),
                     ('.mlp.fc1.', '.mlp.c_fc.'), ('.mlp.fc2.', '.mlp.c_proj.'), ('.gamma_1', '.ls_1.gamma'),
                     ('.gamma_2', '.ls_2.gamma')):
            k2 = k2.replace(a, b)
        if k2.startswith('norm.'):
            k2 = 'ln_post.' + k2[5:]
        vis[k2] = v
    vis['attn_pool.attn.in_proj_weight'] = torch.cat([sd['attn_pool.q.weight'], sd['attn_pool.kv.weight']], 0)
    vis['attn_pool.attn.in_proj_bias'] = torch.cat([sd['attn_pool.q.bias'], sd['attn_pool.kv.bias']], 0)
    out = {'visual.' + k: v for k, v in vis.items()}
    g = torch.Generator().manual_seed(seed_of('orig-text/' + c['name']))
    E = sd['head.weight'].shape[0]
    # a shrunk stand-in for PE's text tower (CLIP subclasses TextTransformer: its keys sit at the top level)
    for k, shape in (('token_embedding.weight', (8, 8)), ('positional_embedding', (4, 8)),
                     ('ln_final.weight', (8,)), ('ln_final.bias', (8,)), ('text_projection', (8, E))):
        out[k] = torch.randn(shape, generator=g)
    out['logit_scale'] = torch.tensor(math.log(1 / 0.07))
    return out, dict(
        layout="Perception Encoder CLIP (facebookresearch/perception_models core/vision_encoder/pe.py, tower under "
               "'visual.')",
        renames={'patch_embed.proj': 'conv1 (no bias)', 'cls_token [1,1,D]': 'class_embedding [D]',
                 'pos_embed [1,1+N,D]': 'positional_embedding [1+N,D]', 'norm_pre': 'ln_pre',
                 'blocks.N': 'transformer.resblocks.N', 'norm1/norm2': 'ln_1/ln_2',
                 'attn.qkv.weight/bias': 'attn.in_proj_weight/in_proj_bias', 'attn.proj': 'attn.out_proj',
                 'mlp.fc1/fc2': 'mlp.c_fc/c_proj', 'gamma_1/gamma_2': 'ls_1.gamma/ls_2.gamma', 'norm': 'ln_post',
                 'attn_pool.latent': 'attn_pool.probe',
                 'attn_pool.q + attn_pool.kv': 'attn_pool.attn.in_proj_weight/bias (rows q | k | v)',
                 'attn_pool.proj': 'attn_pool.attn.out_proj', 'attn_pool.norm': 'attn_pool.layernorm',
                 'attn_pool.mlp.fc1/fc2': 'attn_pool.mlp.c_fc/c_proj',
                 'head.weight [E,D]': 'proj [D,E] (x @ proj; head.bias = 0)', '<key>': 'visual.<key>'},
        dropped=['token_embedding.weight, positional_embedding, ln_final.*, text_projection (a shrunk text stand-in)',
                 'logit_scale'],
        note="detected from 'visual.conv1.weight' (_convert_pe); PE's Rope2D is not a module: no rope keys")


def orig_dinov3(sd, model, c):
    """DINOv3 backbone checkpoint (facebookresearch/dinov3 dinov3/models/vision_transformer.py, mask_k_bias,
    ffn_layer swiglu): no head."""
    D = model.embed_dim
    hd = model.blocks[0].attn.head_dim
    g = torch.Generator().manual_seed(seed_of('orig-extra/' + c['name']))
    out = {}
    for k, v in sd.items():
        if k.startswith('head.'):
            continue  # the backbone's head is nn.Identity
        if k.endswith('attn.q_bias'):
            vb = sd[k.replace('q_bias', 'v_bias')]
            kb = 0.2 * torch.randn(v.shape, generator=g)  # masked to 0 by bias_mask in the original: must be dropped
            out[k.replace('q_bias', 'qkv.bias')] = torch.cat([v, kb, vb])
            out[k.replace('q_bias', 'qkv.bias_mask')] = torch.cat([torch.ones_like(v), torch.zeros_like(v),
                                                                   torch.ones_like(v)])
            continue
        if k.endswith('attn.v_bias'):
            continue
        k2 = k
        for a, b in (('gamma_1', 'ls1.gamma'), ('gamma_2', 'ls2.gamma'), ('mlp.fc1_g.', 'mlp.w1.'),
                     ('mlp.fc1_x.', 'mlp.w2.'), ('mlp.fc2.', 'mlp.w3.')):
            k2 = k2.replace(a, b)
        if k2 == 'reg_token':
            k2 = 'storage_tokens'
        out[k2] = v
    out['mask_token'] = 0.01 * torch.randn((1, D), generator=g)
    # RopePositionEmbedding.periods: persistent, stored in bfloat16 by the releases (base 100, dim head_dim)
    out['rope_embed.periods'] = (100.0 ** (2 * torch.arange(hd // 4, dtype=torch.float32) / (hd // 2))).to(
        torch.bfloat16)
    return out, dict(
        layout='DINOv3 backbone (facebookresearch/dinov3 dinov3/models/vision_transformer.py: mask_k_bias, swiglu)',
        renames={'reg_token': 'storage_tokens', 'gamma_1/gamma_2': 'ls1.gamma/ls2.gamma',
                 'attn.q_bias + attn.v_bias': 'attn.qkv.bias [q | k | v] (k part masked by attn.qkv.bias_mask)',
                 'mlp.fc1_g/fc1_x/fc2': 'mlp.w1/w2/w3'},
        dropped=['mask_token', 'rope_embed.periods (bfloat16)', 'blocks.N.attn.qkv.bias_mask',
                 'the k third of blocks.N.attn.qkv.bias (non-zero here, masked to 0 in the original)'],
        note="detected from 'storage_tokens'; the backbone has no head: head.weight / head.bias come from the case's "
             'weights file')


ORIG = {'eva02': orig_eva02, 'eva_clip': orig_eva_clip, 'pe': orig_pe, 'dinov3': orig_dinov3}


def convert_orig(orig_sd, model):
    """timm's own converter, as build_model_with_cfg applies it for pretrained weights."""
    return ev.checkpoint_filter_fn(dict(orig_sd), model)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=OUT)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    torch.set_num_threads(1)
    manifest = []
    group_weights = {}  # group -> (file, state_dict)
    rows = []
    for c in CASES:
        model, effective = build(c['arch'], c['args'])
        sd_shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        if c['group'] in group_weights:
            wfile, sd = group_weights[c['group']]
            assert sd_shapes == {k: tuple(v.shape) for k, v in sd.items()}, f'{c["name"]}: group keys differ'
            model.load_state_dict(sd)
        else:
            randomize(model, seed_of('weights/' + c['group']))
            with torch.no_grad():
                for k in c['zero']:
                    model.get_parameter(k).zero_()
            sd = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
            assert all(v.dtype == torch.float32 for v in sd.values())
            wfile = f'{c["group"]}.safetensors'
            save_file(sd, os.path.join(a.out, wfile))
            group_weights[c['group']] = (wfile, sd)
        orig_entry = None
        if c['orig']:
            orig_sd, info = ORIG[c['orig']](sd, model, c)
            ofile = f'{c["name"]}.orig.safetensors'
            save_file({k: v.contiguous() for k, v in orig_sd.items()}, os.path.join(a.out, ofile))
            conv = convert_orig(orig_sd, model)
            from_case = sorted(set(sd) - set(conv))
            assert set(conv) <= set(sd), set(conv) - set(sd)
            for k, v in conv.items():
                assert v.shape == sd[k].shape and torch.equal(v.float(), sd[k]), k
            orig_entry = dict(file=ofile, reproduces=c['name'], converter='timm.models.eva.checkpoint_filter_fn',
                              keys_from_case=from_case, **info)
        ep = entrypoint_args(c['arch'])
        H, W = (c['args']['img_size'],) * 2 if isinstance(c['args']['img_size'], int) else c['args']['img_size']
        for size in [(H, W)] * c['native'] + c['extra_sizes']:
            name = c['name'] if size == (H, W) else f'{c["name"]}_{size[0]}x{size[1]}'
            g = torch.Generator().manual_seed(seed_of('input/' + name))
            x = torch.randn((BATCH, 3) + size, generator=g, dtype=torch.float32)
            outs = run(model, x)
            io = f'{name}.io.safetensors'
            save_file(dict(input=x, **outs), os.path.join(a.out, io))
            entry = {
                'name': name,
                'config': {'architecture': c['arch'], 'num_classes': NUM_CLASSES, 'model_args': c['args']},
                'weights': wfile,
                'io': io,
                'input_size': list(size),
                'outputs': sorted(outs),
                'why': c['why'] + ('' if size == (H, W) else f' (input {size[0]}x{size[1]})'),
                'covers': c['covers'],
                'entrypoint_args': ep,
                'effective_args': effective,
                'timm': timm.__version__,
            }
            if orig_entry and size == (H, W):
                entry['orig'] = orig_entry
            if c['zero']:
                entry['zeroed'] = c['zero']
            manifest.append(entry)
            rows.append((name, c['arch'], tuple(outs['logits'].shape), outs['logits'].abs().max().item(),
                         outs['features'].abs().max().item()))
    with open(os.path.join(a.out, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
        f.write('\n')
    w = max(len(r[0]) for r in rows)
    wa = max(len(r[1]) for r in rows)
    print(f'{"case":<{w}}  {"architecture":<{wa}}  {"logits":<12}  max|logit|  max|feature|')
    for r in rows:
        print(f'{r[0]:<{w}}  {r[1]:<{wa}}  {str(list(r[2])):<12}  {r[3]:10.4f}  {r[4]:12.4f}')
    total = sum(os.path.getsize(os.path.join(a.out, f)) for f in os.listdir(a.out) if f != 'README.md')
    print(f'{len(manifest)} cases, {len(group_weights)} weight files, {total / 1e6:.2f} MB in {a.out}; '
          f'timm {timm.__version__}, torch {torch.__version__}')


if __name__ == '__main__':
    main()
