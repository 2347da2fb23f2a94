"""Small hybrid-ViT .npz checkpoints in Google's JAX layout (R50+ViT-B_16.npz style) for test/npz-hybrid.test.ts,
with timm's own outputs after timm loads them (test/fixtures/npz-hybrid/).

Each case: a tiny timm hybrid (ResNetV2 with stages, or the stem alone as in vit_tiny_r_s16_p8) with seeded random
weights (GroupNorm scales and biases away from 1 / 0), written as an .npz by inverting timm's
VisionTransformer._load_weights (OIHW -> HWIO, Linear [out, in] -> Dense [in, out], qkv split per head), then
loaded into a FRESH timm model with timm's model.load_pretrained(npz). For plain exports the reloaded state_dict
must equal the source model's exactly (so the layout is the one timm reads). The reloaded model's outputs, computed
in float64 and stored as float32, are the ground truth: `logits`, `features` (forward_features), and for loads that
adapt tensors the adapted `patch_embed.proj.weight` / `pos_embed` / stem conv.
Cases that load an npz into a different model: in_chans=1 (timm adapt_input_conv on conv_root only), and an npz
whose embedding kernel (3x5) and position grid (5x5) differ from the model's patch size 4 / grid 4x4 (timm
resample_patch_embed and resample_abs_pos_embed, both bilinear without antialias on this path).
Never used by tests at run time. Run from the repository root: python3 scripts/make-npz-fixtures.py
"""
import json, os, sys
from functools import partial

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'bench'))
from torch_peer import import_timm  # noqa: E402  (timm with a torchvision stand-in)

timm = import_timm()
assert timm is not None, 'timm is not importable'
from safetensors.torch import save_file  # noqa: E402
from timm.layers import GroupNormAct, StdConv2dSame  # noqa: E402
from timm.models.resnetv2 import ResNetV2, create_resnetv2_stem  # noqa: E402
from timm.models.vision_transformer_hybrid import _create_vision_transformer_hybrid  # noqa: E402

OUT = 'test/fixtures/npz-hybrid/'


def backbone(spec, in_chans):
    """timm's _resnetv2 (vision_transformer_hybrid.py) with the widths of a vitnode `backbone` description."""
    conv = partial(StdConv2dSame, eps=1e-8)
    norm = partial(GroupNormAct, num_groups=spec['num_groups'])
    if spec['layers']:
        return ResNetV2(layers=spec['layers'], channels=spec['channels'], stem_chs=spec['stem_chs'], num_classes=0,
                        global_pool='', in_chans=in_chans, preact=False, stem_type='same', conv_layer=conv,
                        norm_layer=norm)
    return create_resnetv2_stem(in_chans, spec['stem_chs'], stem_type='same', preact=False, conv_layer=conv,
                                norm_layer=norm)


def build(config, in_chans=3):
    a = dict(config['model_args'])
    spec = a.pop('backbone')
    a['in_chans'] = in_chans
    m = _create_vision_transformer_hybrid(config['architecture'], backbone=backbone(spec, in_chans),
                                          num_classes=config['num_classes'], **a)
    return m.eval()


def randomise(m, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for k, p in m.state_dict().items():
            r = torch.randn(p.shape, generator=g)
            if p.ndim >= 2:
                p.copy_(r / max(1, p[0].numel()) ** 0.5)
            elif k.endswith('.weight'):  # LayerNorm / GroupNorm scales
                p.copy_(1 + 0.3 * r)
            else:
                p.copy_(0.2 * r)


def hwio(w):
    return w.permute(2, 3, 1, 0)


def to_jax(m, heads):
    """timm state_dict -> Google ViT .npz names (original layout: encoderblock_i, MHA_1, MlpBlock_3, LayerNorm_2)."""
    sd = {k: v.detach().float() for k, v in m.state_dict().items()}
    out = {}
    bb = 'patch_embed.backbone.'
    stem = bb + 'stem.' if bb + 'stem.conv.weight' in sd else bb
    out['conv_root/kernel'] = hwio(sd[stem + 'conv.weight'])
    out['gn_root/scale'] = sd[stem + 'norm.weight']
    out['gn_root/bias'] = sd[stem + 'norm.bias']
    for i, stage in enumerate(getattr(m.patch_embed.backbone, 'stages', [])):
        for j, block in enumerate(stage.blocks):
            src, dst = f'{bb}stages.{i}.blocks.{j}.', f'block{i + 1}/unit{j + 1}/'
            for r in (1, 2, 3):
                out[f'{dst}conv{r}/kernel'] = hwio(sd[f'{src}conv{r}.weight'])
                out[f'{dst}gn{r}/scale'] = sd[f'{src}norm{r}.weight']
                out[f'{dst}gn{r}/bias'] = sd[f'{src}norm{r}.bias']
            if block.downsample is not None:
                out[f'{dst}conv_proj/kernel'] = hwio(sd[f'{src}downsample.conv.weight'])
                out[f'{dst}gn_proj/scale'] = sd[f'{src}downsample.norm.weight']
                out[f'{dst}gn_proj/bias'] = sd[f'{src}downsample.norm.bias']
    out['embedding/kernel'] = hwio(sd['patch_embed.proj.weight'])
    out['embedding/bias'] = sd['patch_embed.proj.bias']
    out['cls'] = sd['cls_token']
    out['Transformer/posembed_input/pos_embedding'] = sd['pos_embed']
    out['Transformer/encoder_norm/scale'] = sd['norm.weight']
    out['Transformer/encoder_norm/bias'] = sd['norm.bias']
    out['head/kernel'] = sd['head.weight'].T
    out['head/bias'] = sd['head.bias']
    for i in range(len(m.blocks)):
        b, p = f'blocks.{i}.', f'Transformer/encoderblock_{i}/'
        D = sd[b + 'norm1.weight'].shape[0]
        hd = D // heads
        out[p + 'LayerNorm_0/scale'] = sd[b + 'norm1.weight']
        out[p + 'LayerNorm_0/bias'] = sd[b + 'norm1.bias']
        for n, w, bias in zip(('query', 'key', 'value'), sd[b + 'attn.qkv.weight'].chunk(3), sd[b + 'attn.qkv.bias'].chunk(3)):
            out[f'{p}MultiHeadDotProductAttention_1/{n}/kernel'] = w.T.reshape(D, heads, hd)
            out[f'{p}MultiHeadDotProductAttention_1/{n}/bias'] = bias.reshape(heads, hd)
        out[p + 'MultiHeadDotProductAttention_1/out/kernel'] = sd[b + 'attn.proj.weight'].reshape(D, heads, hd).permute(1, 2, 0)
        out[p + 'MultiHeadDotProductAttention_1/out/bias'] = sd[b + 'attn.proj.bias']
        out[p + 'LayerNorm_2/scale'] = sd[b + 'norm2.weight']
        out[p + 'LayerNorm_2/bias'] = sd[b + 'norm2.bias']
        for r in (0, 1):
            out[f'{p}MlpBlock_3/Dense_{r}/kernel'] = sd[f'{b}mlp.fc{r + 1}.weight'].T
            out[f'{p}MlpBlock_3/Dense_{r}/bias'] = sd[f'{b}mlp.fc{r + 1}.bias']
    return {k: v.contiguous().numpy().astype(np.float32) for k, v in out.items()}


def loaded(config, npz, in_chans=3):
    """A fresh timm model (different random weights) with the .npz loaded by timm itself."""
    m = build(config, in_chans)
    randomise(m, 999)
    m.load_pretrained(npz)
    return m


def outputs(m, x, extra=()):
    m = m.double()
    with torch.no_grad():
        io = {'input': x, 'logits': m(x.double()).float(), 'features': m.forward_features(x.double()).float()}
    sd = m.state_dict()
    for k in extra:
        io[k] = sd[k].float()
    return {k: v.contiguous() for k, v in io.items()}


def hybrid_args(backbone_spec, img, patch, embed_dim=32, depth=2, heads=2):
    return {'backbone': dict(type='resnetv2', stem_type='same', preact=False, conv='std_conv2d_same', norm='group_norm',
                             **backbone_spec),
            'img_size': img, 'patch_size': patch, 'in_chans': 3, 'embed_dim': embed_dim, 'depth': depth,
            'num_heads': heads, 'mlp_ratio': 4.0, 'qkv_bias': True, 'class_token': True, 'global_pool': 'token'}


STAGES = {'architecture': 'vit_base_r50_s16_224', 'num_classes': 10, 'model_args': hybrid_args(
    {'layers': [2, 1], 'channels': [32, 64], 'stem_chs': 16, 'num_groups': 8}, 64, 1)}
STEM = {'architecture': 'vit_tiny_r_s16_p8_224', 'num_classes': 10, 'model_args': hybrid_args(
    {'layers': [], 'stem_chs': 16, 'num_groups': 8}, 64, 4)}

os.makedirs(OUT, exist_ok=True)
g = torch.Generator().manual_seed(0)
x3 = torch.randn(2, 3, 64, 64, generator=g)
x1 = torch.randn(2, 1, 64, 64, generator=g)
cases = []


def case(name, config, npz, io, note, in_chans=3):
    cfg = json.loads(json.dumps(config))
    cfg['model_args']['in_chans'] = in_chans
    save_file(io, OUT + name + '.io.safetensors')
    cases.append({'name': name, 'config': cfg, 'npz': npz, 'io': name + '.io.safetensors', 'outputs': sorted(k for k in io if k != 'input'), 'note': note})


for name, config, seed in (('r_stages', STAGES, 1), ('r_stem_only', STEM, 2)):
    src = build(config)
    randomise(src, seed)
    arrays = to_jax(src, config['model_args']['num_heads'])
    np.savez(OUT + name + '.npz', **arrays)
    m = loaded(config, OUT + name + '.npz')
    want = src.state_dict()
    got = m.state_dict()
    assert got.keys() == want.keys()
    err = max((got[k] - want[k]).abs().max().item() for k in want)
    assert err == 0, f'{name}: timm load_pretrained does not restore the exported weights (max diff {err})'
    print(f'{name}: {len(arrays)} arrays, timm reload exact ({len(want)} tensors)')
    case(name, config, name + '.npz', outputs(m, x3), 'timm model.load_pretrained(npz)')
    if name == 'r_stages':
        stem = 'patch_embed.backbone.stem.conv.weight'
        m1 = loaded(config, OUT + name + '.npz', in_chans=1)
        case('r_stages_in_chans1', config, name + '.npz', outputs(m1, x1, [stem]),
             'in_chans=1: timm adapt_input_conv on conv_root (the stem conv), none on the embedding', in_chans=1)
    else:
        # embedding kernel 3x5 (model patch 4) and a 5x5 position grid (model 4x4): resampled on load
        D = config['model_args']['embed_dim']
        g2 = torch.Generator().manual_seed(3)
        arrays['embedding/kernel'] = (torch.randn(3, 5, 16, D, generator=g2) / 16).numpy()
        arrays['Transformer/posembed_input/pos_embedding'] = (0.5 * torch.randn(1, 26, D, generator=g2)).numpy()
        np.savez(OUT + 'r_stem_only_k3x5.npz', **arrays)
        mr = loaded(config, OUT + 'r_stem_only_k3x5.npz')
        case('r_stem_only_k3x5', config, 'r_stem_only_k3x5.npz', outputs(mr, x3, ['patch_embed.proj.weight', 'pos_embed']),
             'embedding kernel 3x5 -> patch 4 (timm resample_patch_embed), pos grid 5x5 -> 4x4 (bilinear, no antialias)')

with open(OUT + 'manifest.json', 'w') as f:
    json.dump(cases, f, indent=1)
    f.write('\n')
for c in cases:
    print(c['name'], c['outputs'])
