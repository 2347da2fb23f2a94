"""Optional PyTorch peer for `npm run bench -- --torch` (CPU, float32, eager, inference_mode).

timm's own VisionTransformer (`timm.create_model(name)` + the same safetensors checkpoint as vitnode). timm imports
torchvision at import time (datasets, transforms, FrozenBatchNorm2d) for code a ViT forward never runs; where no
working torchvision is installed (here the wheel store's torchvision is a CUDA build that cannot load beside a CPU
torch), an empty stand-in package satisfies those imports. Without timm at all, a small pure-torch forward of the
same ViT is used and the result says so. The driver checks the peer's logits against onnxruntime's before timing
it. Protocol: argv[1] is JSON; mode "check" writes float32 logits for a raw float32 input file; mode "time" prints
`@@RESULT {json}` like bench/worker.ts.
"""
import importlib.abc
import importlib.machinery
import json
import sys
import time
import types

import torch
import torch.nn.functional as F
from safetensors.torch import load_file


def peak_rss_mb():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) / 1024
    return float('nan')


def rss_mb():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024
    return float('nan')


def busy_seconds():
    try:
        with open('/proc/stat') as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return (v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)) / 100
    except OSError:
        return None


class ViT:
    def __init__(self, sd, num_heads, eps=1e-6):
        self.sd = sd
        self.h = num_heads
        self.eps = eps
        self.depth = 1 + max(int(k.split('.')[1]) for k in sd if k.startswith('blocks.'))
        pw = sd['patch_embed.proj.weight']
        self.patch = pw.shape[-1]
        self.dim = pw.shape[0]

    def ln(self, x, p):
        return F.layer_norm(x, (self.dim,), self.sd[p + '.weight'], self.sd[p + '.bias'], self.eps)

    def lin(self, x, p):
        return F.linear(x, self.sd[p + '.weight'], self.sd[p + '.bias'])

    def __call__(self, x):
        sd = self.sd
        B = x.shape[0]
        x = F.conv2d(x, sd['patch_embed.proj.weight'], sd['patch_embed.proj.bias'], stride=self.patch)
        x = x.flatten(2).transpose(1, 2)
        x = torch.cat([sd['cls_token'].expand(B, -1, -1), x], dim=1) + sd['pos_embed']
        N = x.shape[1]
        hd = self.dim // self.h
        for i in range(self.depth):
            p = f'blocks.{i}'
            y = self.ln(x, p + '.norm1')
            qkv = self.lin(y, p + '.attn.qkv').reshape(B, N, 3, self.h, hd).permute(2, 0, 3, 1, 4)
            y = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
            x = x + self.lin(y.transpose(1, 2).reshape(B, N, self.dim), p + '.attn.proj')
            y = self.ln(x, p + '.norm2')
            x = x + self.lin(F.gelu(self.lin(y, p + '.mlp.fc1')), p + '.mlp.fc2')
        x = self.ln(x, 'norm')
        return self.lin(x[:, 0], 'head')


class _Inert(type):
    """Stand-in classes: any attribute is another (cached) stand-in, e.g. InterpolationMode.NEAREST."""

    def __getattr__(cls, attr):
        if attr.startswith('__'):
            raise AttributeError(attr)
        v = _Inert(attr, (), {})
        setattr(cls, attr, v)
        return v


def _module_getattr(attr):
    # Dunder names must raise: a stand-in whose __file__ reads as None makes inspect.getmodule (run by
    # torch._dynamo's import, which timm triggers) fail with "is a built-in module".
    if attr.startswith('__'):
        raise AttributeError(attr)
    return _Inert(attr, (torch.nn.Module,), {})


class _StandIn(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Empty `torchvision.*` packages whose attributes are inert classes: enough for timm's imports."""

    def find_spec(self, name, path=None, target=None):
        if name == 'torchvision' or name.startswith('torchvision.'):
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        m = types.ModuleType(spec.name)
        m.__path__ = []
        m.__getattr__ = _module_getattr
        return m

    def exec_module(self, module):
        pass


def import_timm():
    """timm, with the torchvision stand-in when the real one is missing or broken; None without timm."""
    try:
        import torchvision  # noqa: F401
    except Exception:
        for k in [k for k in sys.modules if k == 'torchvision' or k.startswith('torchvision.')]:
            del sys.modules[k]
        sys.meta_path.insert(0, _StandIn())
    try:
        import timm
        return timm
    except Exception:
        return None


def load_model(a):
    """(callable model, description)."""
    sd = load_file(a['checkpoint'])
    timm = import_timm()
    if timm is None:
        return ViT(sd, a['numHeads']), f'PyTorch {torch.__version__} (pure-torch ViT: timm not importable)'
    model = timm.create_model(a['model'], pretrained=False, num_classes=sd['head.weight'].shape[0])
    model.load_state_dict(sd)
    return model.eval(), f'PyTorch {torch.__version__} + timm {timm.__version__}'


def main():
    a = json.loads(sys.argv[1])
    torch.set_num_threads(a['threads'])
    torch.set_num_interop_threads(1)
    baseline = peak_rss_mb()
    t0 = time.perf_counter()
    model, desc = load_model(a)
    load_ms = (time.perf_counter() - t0) * 1000
    B, S = a['batch'], a['imgSize']
    with torch.inference_mode():
        if a['mode'] == 'check':
            x = torch.frombuffer(bytearray(open(a['input'], 'rb').read()), dtype=torch.float32).reshape(B, 3, S, S)
            open(a['output'], 'wb').write(model(x).contiguous().numpy().tobytes())
            return
        g = torch.Generator().manual_seed(1234 + B)
        x = torch.rand(B, 3, S, S, generator=g) * 4 - 2
        w0 = time.perf_counter()
        i = 0
        while i < 2 or time.perf_counter() - w0 < a['warmupSeconds']:
            model(x)
            i += 1
        samples = []
        b0 = busy_seconds()
        c0 = time.process_time()
        s0 = time.perf_counter()
        while time.perf_counter() - s0 < a['seconds'] or len(samples) < a['minRuns']:
            t = time.perf_counter()
            model(x)
            samples.append((time.perf_counter() - t) * 1000)
        total = time.perf_counter() - s0
        own = time.process_time() - c0
        b1 = busy_seconds()
    ss = sorted(samples)

    def q(f):
        pos = (len(ss) - 1) * f
        lo = int(pos)
        hi = min(lo + 1, len(ss) - 1)
        return ss[lo] + (ss[hi] - ss[lo]) * (pos - lo)

    res = {
        'engine': 'torch', 'version': desc, 'model': a['model'],
        'batch': B, 'threads': a['threads'], 'runs': len(samples), 'seconds': total,
        'imgPerSec': len(samples) * B / total, 'msPerBatch': total * 1000 / len(samples),
        'p50Ms': q(0.5), 'p99Ms': q(0.99), 'samplesMs': [round(s, 3) for s in samples], 'loadMs': load_ms,
        'foreignCpu': None if b0 is None or b1 is None else max(0.0, (b1 - b0 - own) / total),
        'baselineRssMB': baseline, 'peakRssMB': peak_rss_mb(),
        'rssAfterMB': rss_mb(),
    }
    print('\n@@RESULT ' + json.dumps(res))


if __name__ == '__main__':
    main()
