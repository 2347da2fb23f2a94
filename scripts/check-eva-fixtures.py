"""Developer tool: re-checks test/fixtures/eva/ against timm (run after scripts/make-eva-fixtures.py).

For every case of the manifest:
1. reproduce: a fresh timm model from the case's config, the stored state_dict loaded strictly, the stored input
   run in float64 -> every stored output within 1e-6 (absolute; the files hold float32 roundings);
2. float32: the same model in float32 within the fixtures' tolerance 1e-4 * max(1, max|expected|);
3. every parameter matters: each one gets a non-zero gradient from the stored outputs;
4. every option matters: each non-dimension argument Eva received is reset to Eva's default in turn; the result must
   change the state_dict (keys/shapes), refuse to build / run, or move the outputs by more than the tolerance (below
   1e-3 reported as weak). Expected exceptions (listed in expected_no_effect) are reported, others fail;
5. norm eps is observable: all norm eps x10 must move the outputs beyond the tolerance (reported);
6. original layouts (`orig`): timm's own eva.checkpoint_filter_fn on the `<case>.orig.safetensors` state_dict gives
   exactly the case's state_dict (keys_from_case excepted: taken from the case's file), which, loaded strictly into a
   fresh model, reproduces the case's outputs; the original rope buffers are compared with timm's tables.
Usage: python3 scripts/check-eva-fixtures.py [--dir DIR]
"""
import argparse
import importlib.util
import inspect
import json
import os
import sys

import torch
from safetensors.torch import load_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_spec = importlib.util.spec_from_file_location('make_eva_fixtures',
                                               os.path.join(ROOT, 'scripts', 'make-eva-fixtures.py'))
mk = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mk)
ev = mk.ev

DIMS = {'img_size', 'patch_size', 'embed_dim', 'depth', 'num_heads', 'num_classes', 'in_chans', 'mlp_ratio',
        'device', 'dtype'}
DEFAULTS = {k: p.default for k, p in inspect.signature(mk._orig_init).parameters.items()
            if p.default is not inspect.Parameter.empty}


def outputs32(model, x):
    with torch.no_grad():
        f = model.forward_features(x)
        out = {'logits': model(x), 'features': f, 'pre_logits': model.forward_head(f, pre_logits=True)}
        for i, t in enumerate(model.forward_intermediates(x, indices=None, norm=False, output_fmt='NCHW',
                                                         intermediates_only=True)):
            out[f'intermediates.{i}'] = t
        for i, t in enumerate(model.forward_intermediates(x, indices=[0, -1], norm=True, output_fmt='NLC',
                                                         intermediates_only=True)):
            out[f'intermediates_norm_nlc.{i}'] = t
    return out


def rel_dev(got, want):
    """max over outputs of max|got - want| / max(1, max|want|); inf where shapes differ."""
    worst = 0.0
    for k, w in want.items():
        g = got.get(k)
        if g is None or g.shape != w.shape:
            return float('inf')
        worst = max(worst, (g.double() - w.double()).abs().max().item() / max(1.0, w.abs().max().item()))
    return worst


def expected_no_effect(key, kw, c):
    """Arguments whose reset may legitimately leave every output unchanged for this case."""
    native = kw.get('img_size')
    native = [native] * 2 if isinstance(native, int) else list(native)
    if key == 'dynamic_img_size' and list(c['input_size']) == native:
        return 'only matters at another input size'
    if key == 'use_fc_norm' and kw[key] == (kw.get('global_pool', 'avg') == 'avg'):
        return 'equals what use_fc_norm=None resolves to'
    if key == 'use_post_transformer_norm':
        fc = kw.get('use_fc_norm')
        fc = kw.get('global_pool', 'avg') == 'avg' if fc is None else fc
        if kw[key] == (not fc):
            return 'equals what use_post_transformer_norm=None resolves to'
    if key == 'attn_pool_mlp_ratio' and kw[key] == kw.get('mlp_ratio', 4.):
        return 'equals the fallback (the model mlp_ratio)'
    if key == 'rope_temperature' and kw.get('rope_type') == 'mixed':
        return "RotaryEmbeddingMixed uses the temperature only to initialise rope.freqs"
    if key == 'head_init_scale':
        return 'initialisation only'
    return None


def check_orig(c, d, model_sd, io, failures, notes):
    o = c['orig']
    cfg = c['config']
    model, _ = mk.build(cfg['architecture'], cfg['model_args'])
    orig = load_file(os.path.join(d, o['file']))
    conv = mk.convert_orig(orig, model)
    want_keys = set(model_sd) - set(o['keys_from_case'])
    if set(conv) != want_keys:
        failures.append(f'{c["name"]}: converted orig keys differ: missing {sorted(want_keys - set(conv))}, '
                        f'extra {sorted(set(conv) - want_keys)}')
        return
    bad = [k for k, v in conv.items() if v.shape != model_sd[k].shape or not torch.equal(v.float(), model_sd[k])]
    if bad:
        failures.append(f'{c["name"]}: converted orig tensors differ: {bad}')
        return
    full = dict(conv)
    full.update({k: model_sd[k] for k in o['keys_from_case']})
    model.load_state_dict(full, strict=True)
    got = mk.run(model, io['input'])
    err = max((got[k].double() - io[k].double()).abs().max().item() for k in io if k != 'input')
    if err >= 1e-6:
        failures.append(f'{c["name"]}: outputs after converting the original layout differ by {err:.3g}')
    extra = ''
    # the original rope buffers against timm's tables (not loaded: documentation of the layout)
    rope = model.rope
    for pre in ('', 'visual.'):
        if pre + 'rope.freqs_cos' in orig:
            tab = rope.pos_embed  # RotaryEmbeddingCat: [N, 2 * hd] = [sin | cos]
            hd = tab.shape[1] // 2
            dev = max((orig[pre + 'rope.freqs_sin'] - tab[:, :hd]).abs().max().item(),
                      (orig[pre + 'rope.freqs_cos'] - tab[:, hd:]).abs().max().item())
            extra = f"; original rope.freqs_sin/cos == timm's cat table halves within {dev:.1e}"
            if dev > 1e-5:
                failures.append(f'{c["name"]}: original EVA rope buffers differ from timm\'s table by {dev:.3g}')
    if 'rope_embed.periods' in orig:
        dev = (orig['rope_embed.periods'].float() - rope.periods.to(torch.bfloat16).float()).abs().max().item()
        extra = f"; original rope_embed.periods (bf16) == timm's periods rounded to bf16 within {dev:.1e}"
        if dev > 0:
            failures.append(f'{c["name"]}: original DINOv3 periods differ from timm\'s: {dev:.3g}')
    notes.append(f'{c["name"]}: {o["file"]} -> checkpoint_filter_fn -> {len(conv)} tensors equal to the case\'s '
                 f'(+ {o["keys_from_case"] or "nothing"} from the case), outputs within {err:.1e}{extra}')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--dir', default=mk.OUT)
    a = ap.parse_args()
    torch.set_num_threads(1)
    manifest = json.load(open(os.path.join(a.dir, 'manifest.json')))
    failures = []
    notes = []
    print(f'{"case":<30} {"f64 abs err":>11} {"f32 rel":>9} {"eps x10":>9}  options (k=keys/shapes, r=refuses, '
          f'o=outputs, -=default)')
    for c in manifest:
        cfg = c['config']
        model, _ = mk.build(cfg['architecture'], cfg['model_args'])
        kw = dict(mk._captured)
        sd = load_file(os.path.join(a.dir, c['weights']))
        model.load_state_dict(sd, strict=True)
        io = load_file(os.path.join(a.dir, c['io']))
        x = io['input']
        want = {k: v for k, v in io.items() if k != 'input'}
        if sorted(want) != sorted(c['outputs']):
            failures.append(f'{c["name"]}: io keys {sorted(want)} != manifest outputs')
        for k in c.get('zeroed', []):
            if sd[k].any():
                failures.append(f'{c["name"]}: {k} should be zero')

        # 1. float64 reproduction
        got = mk.run(model, x)
        err64 = max((got[k].double() - want[k].double()).abs().max().item() for k in want)
        if set(got) != set(want) or err64 >= 1e-6:
            failures.append(f'{c["name"]}: float64 reproduction error {err64:.3g}')
        # 2. float32
        rel32 = rel_dev(outputs32(model.float(), x), want)
        if rel32 > 1e-4:
            failures.append(f'{c["name"]}: float32 deviation {rel32:.3g} > 1e-4')

        # 3. every parameter gets a gradient
        m = mk.to_double(model)
        g = torch.Generator().manual_seed(0)
        x64 = x.double()
        f = m.forward_features(x64)
        outs = [m.forward_head(f), f, m.forward_head(f, pre_logits=True)] + list(
            m.forward_intermediates(x64, output_fmt='NCHW', intermediates_only=True))
        loss = sum((o * torch.randn(o.shape, generator=g, dtype=o.dtype)).sum() for o in outs)
        m.zero_grad()
        loss.backward()
        dead = [n for n, p in m.named_parameters() if p.grad is None or p.grad.abs().max().item() == 0]
        if dead:
            failures.append(f'{c["name"]}: parameters without effect: {dead}')
        model.float()

        # 4. option ablations
        marks = []
        for key in sorted(kw):
            if key in DIMS:
                continue
            if key in DEFAULTS and (kw[key] is DEFAULTS[key] or (
                    type(kw[key]) is type(DEFAULTS[key]) and kw[key] == DEFAULTS[key])):
                marks.append(f'{key}-')
                continue
            kw2 = {k: v for k, v in kw.items() if k != key}
            try:
                m2 = ev.Eva(**kw2).eval()
            except Exception:
                marks.append(f'{key}:r')
                continue
            try:
                m2.load_state_dict(sd, strict=True)
            except RuntimeError:
                marks.append(f'{key}:k')
                continue
            try:
                dev = rel_dev(mk.run(m2, x), want)
            except Exception:
                marks.append(f'{key}:r')
                continue
            if dev > 1e-3:
                marks.append(f'{key}:o')
            elif dev > 1e-4:
                marks.append(f'{key}:o(weak)')
                notes.append(f'{c["name"]}: resetting {key} moves outputs by only {dev:.2g} (tolerance 1e-4)')
            else:
                why = expected_no_effect(key, kw, c)
                marks.append(f'{key}:none')
                (notes if why else failures).append(f'{c["name"]}: resetting {key} leaves outputs within {dev:.2g}'
                                                    + (f' ({why})' if why else ''))

        # 5. norm eps x10
        for mod in model.modules():
            if isinstance(mod, mk.NORMS):
                mod.eps *= 10
        eps_dev = rel_dev(mk.run(model, x), want)
        print(f'{c["name"]:<30} {err64:11.2e} {rel32:9.2e} {eps_dev:9.2e}  {" ".join(marks)}')
        if eps_dev <= 1e-4:
            notes.append(f'{c["name"]}: norm eps x10 moves outputs by only {eps_dev:.2g}')

        # 6. original layout
        if c.get('orig'):
            check_orig(c, a.dir, sd, io, failures, notes)
    for n in notes:
        print('note:', n)
    for f in failures:
        print('FAIL:', f)
    nfail = len({f.split(':')[0] for f in failures})
    print(f'{len(manifest) - nfail} passed, {nfail} failed')
    sys.exit(1 if failures else 0)


if __name__ == '__main__':
    main()
