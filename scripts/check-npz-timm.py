"""Cross-checks scripts/write-npz.ts against timm's own .npz loader (VisionTransformer._load_weights).

Loads each layout written from the vit_basic fixture into timm's model and compares every tensor with the
safetensors weights, then writes the ground truth for the pos_embed resample of timm's .npz path (bilinear, no
antialias) at img_size 48 to test/fixtures/npz/vit_basic_npz_48.safetensors.
timm is imported with torchvision stubbed out (this environment's torchvision is missing; timm's model code does not
need it). Run: node --import=tsx scripts/write-npz.ts ... first for each layout, then python3 scripts/check-npz-timm.py DIR
"""
import importlib.abc, importlib.machinery, json, sys, types

class _Any(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith('__'):
            raise AttributeError(name)
        if name[0].islower():
            full = self.__name__ + '.' + name
            return sys.modules.get(full) or _mk(full)
        class _Meta(type):
            def __getattr__(cls, a):
                if a.startswith('__'):
                    raise AttributeError(a)
                return a
        return _Meta(name, (), {})

def _mk(n):
    m = _Any(n); m.__path__ = []; sys.modules[n] = m; return m

class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        if name == 'torchvision' or name.startswith('torchvision.'):
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
    def create_module(self, spec): return _mk(spec.name)
    def exec_module(self, m): pass

sys.meta_path.insert(0, _Finder())
import timm, torch  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from timm.models.vision_transformer import _load_weights  # noqa: E402

d = sys.argv[1]
root = 'test/fixtures/parity/modern/'
case = next(c for c in json.load(open(root + 'manifest.json')) if c['name'] == 'vit_basic')
sd = load_file(root + case['weights'])
for layout in ['original', 'big_vision', 'big_vision_scanned']:
    m = timm.create_model(case['config']['architecture'], num_classes=case['config']['num_classes'], **case['config']['model_args'])
    _load_weights(m, f'{d}/{layout}.npz')
    got = m.state_dict()
    err = max((got[k] - v).abs().max().item() for k, v in sd.items())
    print(f'{layout}: {len(sd)} tensors, max |timm _load_weights - safetensors| = {err}')
    assert err == 0
args = dict(case['config']['model_args'], img_size=48)
m = timm.create_model(case['config']['architecture'], num_classes=case['config']['num_classes'], **args)
_load_weights(m, f'{d}/original.npz')
save_file({'pos_embed': m.pos_embed.detach().contiguous()}, 'test/fixtures/npz/vit_basic_npz_48.safetensors')
print('pos_embed at img_size 48 (timm .npz path):', tuple(m.pos_embed.shape))
