"""Developer tool: timm ground truth for act_layer='gelu_tanh' (test/fixtures/gelu-tanh/).

Rebuilds the vit_basic and deit_distilled parity fixtures with timm and act_layer='gelu_tanh' (timm's name for
nn.GELU(approximate='tanh')), loads the fixtures' own weights, runs the fixtures' inputs and saves timm's logits.
Needs python3 + torch + timm + safetensors (timm imported as bench/torch_peer.py does); tests never run it.
Usage: python3 scripts/make-gelu-tanh-fixture.py
"""
import json
import os
import sys

import torch
from safetensors.torch import load_file, save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'bench'))
from torch_peer import import_timm  # noqa: E402

PARITY = os.path.join(ROOT, 'test', 'fixtures', 'parity', 'modern')
OUT = os.path.join(ROOT, 'test', 'fixtures', 'gelu-tanh')


def main():
    timm = import_timm()
    if timm is None:
        raise SystemExit('timm is not importable')
    cases = {c['name']: c for c in json.load(open(os.path.join(PARITY, 'manifest.json')))}
    manifest = []
    for name in ('vit_basic', 'deit_distilled'):
        c = cases[name]
        cfg = c['config']
        model = timm.create_model(cfg['architecture'], pretrained=False, num_classes=cfg['num_classes'],
                                  act_layer='gelu_tanh', **cfg['model_args']).eval()
        model.load_state_dict(load_file(os.path.join(PARITY, c['weights'])))
        x = load_file(os.path.join(PARITY, c['io']))['input']
        with torch.no_grad():
            logits = model(x)
        io = f'{name}_gelu_tanh.io.safetensors'
        save_file({'input': x.contiguous(), 'logits': logits.contiguous()}, os.path.join(OUT, io))
        manifest.append({'name': name, 'config': cfg, 'weights': f'../parity/modern/{c["weights"]}', 'io': io,
                         'timm': timm.__version__})
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
