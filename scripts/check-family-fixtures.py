"""Developer tool: re-checks test/fixtures/families/ against timm (run after scripts/make-family-fixtures.py).

For every case of the manifest:
1. reproduce: a fresh timm model from the case's config, the stored state_dict loaded strictly, the stored input
   run in float64 -> every stored output within 1e-6 (absolute; the files hold float32 roundings);
2. float32: the same model in float32 within the fixtures' tolerance 1e-4 * max(1, max|expected|);
3. every parameter matters: each one gets a non-zero gradient from the stored outputs;
4. every option matters: each non-dimension argument VisionTransformer received is reset to timm's class default
   in turn; the result must either change the state_dict (keys/shapes), refuse to build, or move the outputs by
   more than the fixtures' tolerance 1e-4 * max(1, max|expected|) (below 1e-3 it is reported as weak: e.g.
   gelu vs gelu_tanh differ by at most 4.7e-4 per activation, ~2e-4 on these outputs). Expected exceptions
   (listed) are reported, others fail;
5. norm eps is observable: all norm eps x10 must move the outputs beyond the fixtures' tolerance (reported).
Usage: python3 scripts/check-family-fixtures.py [--dir DIR]
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
_spec = importlib.util.spec_from_file_location('make_family_fixtures',
                                               os.path.join(ROOT, 'scripts', 'make-family-fixtures.py'))
mk = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mk)
vt = mk.vt

DIMS = {'img_size', 'patch_size', 'embed_dim', 'depth', 'num_heads', 'num_classes', 'in_chans', 'mlp_ratio',
        'device', 'dtype'}
DEFAULTS = {k: p.default for k, p in inspect.signature(mk._orig_init).parameters.items()
            if p.default is not inspect.Parameter.empty}


def outputs64(model, x, names):
    return {k: v for k, v in mk.run(model, x, any(n.startswith('intermediates_norm_nlc') for n in names)).items()}


def outputs32(model, x, nlc):
    with torch.no_grad():
        f = model.forward_features(x)
        out = {'logits': model(x), 'features': f, 'pre_logits': model.forward_head(f, pre_logits=True)}
        for i, t in enumerate(model.forward_intermediates(x, indices=None, norm=False, output_fmt='NCHW',
                                                         intermediates_only=True)):
            out[f'intermediates.{i}'] = t
        if nlc:
            for i, t in enumerate(model.forward_intermediates(x, indices=[0, -1], norm=True, output_fmt='NLC',
                                                             intermediates_only=True)):
                out[f'intermediates_norm_nlc.{i}'] = t
    return out


def rel_dev(got, want):
    """max over outputs of max|got - want| / max(1, max|want|); inf where shapes differ."""
    worst = 0.0
    for k, w in want.items():
        if k == 'input':
            continue
        g = got.get(k)
        if g is None or g.shape != w.shape:
            return float('inf')
        worst = max(worst, (g.double() - w.double()).abs().max().item() / max(1.0, w.abs().max().item()))
    return worst


def expected_no_effect(key, kw, c):
    """Arguments whose reset may legitimately leave every output unchanged for this case."""
    if key == 'dynamic_img_size' and list(c['input_size']) == [kw.get('img_size')] * 2:
        return 'only matters at another input size'
    if key == 'fc_norm':
        resolved_default = kw.get('global_pool', 'token') in ('avg', 'avgmax', 'max')
        if kw[key] == resolved_default:
            return 'equals what fc_norm=None resolves to'
    if key == 'init_values' and kw.get('block_fn') is vt.ResPostBlock:
        return 'ResPostBlock uses init_values only to initialise norm weights'
    if key == 'weight_init':
        return 'initialisation only'
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--dir', default=mk.OUT)
    a = ap.parse_args()
    torch.set_num_threads(1)
    manifest = json.load(open(os.path.join(a.dir, 'manifest.json')))
    failures = []
    notes = []
    print(f'{"case":<45} {"f64 abs err":>11} {"f32 rel":>9} {"eps x10":>9}  options (k=keys/shapes, r=refuses, '
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
        nlc = any(k.startswith('intermediates_norm_nlc') for k in want)

        # 1. float64 reproduction
        got = outputs64(model, x, list(want))
        err64 = max((got[k].double() - want[k].double()).abs().max().item() for k in want)
        if set(got) != set(want) or err64 >= 1e-6:
            failures.append(f'{c["name"]}: float64 reproduction error {err64:.3g}')
        # 2. float32
        rel32 = rel_dev(outputs32(model.float(), x, nlc), want)
        if rel32 > 1e-4:
            failures.append(f'{c["name"]}: float32 deviation {rel32:.3g} > 1e-4')

        # 3. every parameter gets a gradient
        m = model.double()
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
            if key in DEFAULTS and kw[key] is DEFAULTS[key] or (
                    key in DEFAULTS and type(kw[key]) is type(DEFAULTS[key]) and kw[key] == DEFAULTS[key]):
                marks.append(f'{key}-')
                continue
            kw2 = {k: v for k, v in kw.items() if k != key}
            try:
                m2 = vt.VisionTransformer(**kw2).eval()
            except Exception:
                marks.append(f'{key}:r')
                continue
            try:
                m2.load_state_dict(sd, strict=True)
            except RuntimeError:
                marks.append(f'{key}:k')
                continue
            try:
                dev = rel_dev(outputs64(m2, x, list(want)), want)
            except Exception:
                marks.append(f'{key}:r')
                continue
            if dev > 1e-3:
                marks.append(f'{key}:o')
            elif dev > 1e-4:  # beyond the fixtures' float32 tolerance, but not by much
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
        eps_dev = rel_dev(outputs64(model, x, list(want)), want)
        print(f'{c["name"]:<45} {err64:11.2e} {rel32:9.2e} {eps_dev:9.2e}  {" ".join(marks)}')
        if eps_dev <= 1e-4:
            notes.append(f'{c["name"]}: norm eps x10 moves outputs by only {eps_dev:.2g}')
    for n in notes:
        print('note:', n)
    for f in failures:
        print('FAIL:', f)
    print(f'{len(manifest) - len({f.split(":")[0] for f in failures})} passed, '
          f'{len({f.split(":")[0] for f in failures})} failed')
    sys.exit(1 if failures else 0)


if __name__ == '__main__':
    main()
