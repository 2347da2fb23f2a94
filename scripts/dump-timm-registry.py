"""Developer tool: dump timm's ViT registry as data (test/fixtures/arch/timm-registry.json, timm-state-dicts.json.gz).

For every architecture registered by timm's vision_transformer.py, deit.py, vision_transformer_hybrid.py and eva.py
(timm's own registry: `timm.models._registry`, in registration order), this records

  - `model_class` and `model_args`: exactly what the architecture's @register_model entrypoint hands to
    `build_model_with_cfg(model_cls, variant, pretrained, **kwargs)`, captured by replacing that function in the
    module (so it is seen after the module's `_create_*` helper has added its own defaults: `_create_deit`'s
    `distilled` becomes the class, `_create_vision_transformer_hybrid` adds `embed_layer` and `patch_size=1`).
    Nothing full-size is built: the entrypoint is called with pretrained=False and the builder is not run; hybrid
    backbone constructors are replaced too, so a backbone is described by its constructor arguments.
    `num_classes`, `in_chans` and (for `fixed_input_size` cfgs) `img_size` are NOT in model_args unless the
    entrypoint sets them: timm's builder takes them from the chosen pretrained cfg (`_update_default_model_kwargs`).
  - `load`: the builder's checkpoint options: `filter` (the module whose `checkpoint_filter_fn` adapts checkpoints),
    `filter_args` (its partial() kwargs, e.g. FlexiViT's bilinear resampling, DeiT's adapt_layer_scale) and
    `strict` (False where timm loads non-strictly, e.g. SigLIP without the MAP head).
  - `pretrained_cfgs`: every tag's pretrained cfg as registered (`_model_pretrained_cfgs['arch.tag']`,
    `PretrainedCfg.to_dict(remove_source=False, remove_null=True)`), in timm's tag order; `default_tag` is the first
    (timm's default: the first cfg with weights, or a `*`-marked one), what `create_model(arch)` uses.
  - in timm-state-dicts.json.gz: `state_dict` ([key, shape] in order) and `params` (sum of parameter numel) of
    `timm.create_model(arch)` built on torch's meta device (default tag's num_classes), as the other arch fixtures.

Serialisation of model_args (timm's snake_case vocabulary; JSON values):
  1. Numbers, booleans, strings, None: as given (a string layer argument, e.g. act_layer='gelu_tanh', is kept:
     timm resolves it with get_act_layer / get_norm_layer). Tuples become lists.
  2. A class becomes a stable name: activations the name timm's get_act_layer accepts for it ('gelu', 'silu',
     'quick_gelu', 'gelu_tanh', 'relu'); norm layers the name get_norm_layer accepts ('layernorm' for timm's and
     torch's LayerNorm, 'rmsnorm', 'batchnorm2d', ...); any other class (block_fn, mlp_layer, attn_layer,
     embed_layer) its class name ('Block', 'ResPostBlock', 'ParallelScalingBlock', 'SwiGLU', 'GluMlp', ...).
  3. partial(cls, **kw) becomes the name of cls (rule 2), and each keyword becomes a sibling key named after the
     argument without its `_layer` suffix: norm_layer=partial(LayerNorm, eps=1e-5) -> norm_layer='layernorm',
     norm_eps=1e-5; mlp_layer=partial(GluMlp, act_layer=nn.SiLU, gate_last=False) -> mlp_layer='GluMlp',
     mlp_act_layer='silu', mlp_gate_last=False; embed_norm_layer=partial(RmsNorm, eps=1e-5) -> embed_norm_eps.
  4. A norm layer given as a class or partial always gets its eps spelled out (`<base>_eps`, the class default when
     the partial does not set it): timm's LayerNorm defaults to 1e-6, torch's to 1e-5, and both are 'layernorm'.
  5. embed_layer=partial(HybridEmbed, backbone=<module>, **embed_args) -> embed_layer='HybridEmbed', `backbone` (the
     project's extension key: a description, below) and the other HybridEmbed kwargs as rule 3 (embed_proj=False).
     Backbones: timm ResNetV2 (`_resnetv2`) -> {type:'resnetv2', layers, channels, stem_chs, stem_type, preact,
     conv, norm, num_groups} (layers [] = the stem alone); timm ResNet (resnet26d / resnet50d, features_only,
     out_indices=[i]) -> {type:'resnet', block, layers, stem_width, stem_type, avg_down, channels, out_index} with
     layers/channels cut at out_index; ConvStem -> {type:'conv_stem', depth, channels, kernel_size, stride, padding,
     norm_layer, norm_eps, act_layer}. Constructor defaults are filled in from the signatures; in_chans, device and
     dtype are left out (the model's in_chans applies); the ResNetV2 description has no conv eps, so the script
     checks that timm's is 1e-8 (the modern StdConv2d eps; the seed's 1e-5 is implied by the legacy era).
  Every name is checked to map back to a timm class (`unflatten()`): each architecture is rebuilt from its serialised
  model_args on the meta device, and its state_dict and module repr (which shows eps, activations, ...) must equal
  the entrypoint's model. The script fails otherwise.

Needs python3 + torch + timm (imported beside bench/torch_peer.py's inert torchvision stand-in) and nothing else.
Usage: python3 scripts/dump-timm-registry.py   (a few minutes on 2 CPU cores; tests never run it; the output is
byte-identical from run to run). Names as arguments limit it to those (for debugging: the files then hold only them).
"""
import functools
import gzip
import importlib
import inspect
import json
import os
import sys
from collections import OrderedDict
from contextlib import contextmanager

os.environ.pop('TIMM_USE_NAFLEXVIT', None)
os.environ.pop('TIMM_USE_NAFLEX', None)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'bench'))
from torch_peer import _StandIn  # noqa: E402

# The inert torchvision stand-in goes in first: a failed import of the real (CUDA-only) torchvision leaves state
# behind that breaks torch 2.13's import of timm (bench/torch_peer.py's import_timm tries the real one first).
sys.meta_path.insert(0, _StandIn())
import timm  # noqa: E402

from timm.layers import HybridEmbed, StdConv2d, StdConv2dSame, get_act_layer, get_norm_layer  # noqa: E402
from timm.layers.create_act import _ACT_LAYER_DEFAULT  # noqa: E402
from timm.layers.create_norm import _NORM_MAP  # noqa: E402
from timm.models import _registry as registry  # noqa: E402
import timm.models.resnet as tm_resnet  # noqa: E402
import timm.models.resnetv2 as tm_resnetv2  # noqa: E402

MODULES = ['vision_transformer', 'deit', 'vision_transformer_hybrid', 'eva']
OUT_DIR = os.path.join(ROOT, 'test', 'fixtures', 'arch')
BUILDER_ARGS = {'pretrained_filter_fn', 'pretrained_strict', 'feature_cfg'}
mods = {m: importlib.import_module(f'timm.models.{m}') for m in MODULES}
hybrid = mods['vision_transformer_hybrid']
ConvStem = hybrid.ConvStem  # the real class (capture() replaces the module's name while an entrypoint runs)

# ---- names <-> classes -------------------------------------------------------------------------------------------
ACT_NAMES = ['gelu', 'silu', 'quick_gelu', 'gelu_tanh', 'relu']  # preference order where two names share a class
NORM_NAMES = ['layernorm', 'rmsnorm', 'batchnorm2d', 'groupnorm', 'layernorm2d', 'rmsnorm2d', 'simplenorm']
ACT_BY_CLASS = {}
for n in ACT_NAMES:
    ACT_BY_CLASS.setdefault(_ACT_LAYER_DEFAULT[n], n)
ACT_BY_CLASS.setdefault(nn.GELU, 'gelu')  # timm's GELU subclasses nn.GELU; entrypoints use either
NORM_BY_CLASS = {}
for n in NORM_NAMES:
    NORM_BY_CLASS.setdefault(_NORM_MAP[n], n)
NORM_BY_CLASS.setdefault(nn.LayerNorm, 'layernorm')  # torch's LayerNorm: same op as timm's (different default eps)


def is_norm(cls):
    return cls in NORM_BY_CLASS


def default_eps(cls):
    return inspect.signature(cls.__init__).parameters['eps'].default


def class_name(cls, key):
    if cls in ACT_BY_CLASS:
        return ACT_BY_CLASS[cls]
    if cls in NORM_BY_CLASS:
        return NORM_BY_CLASS[cls]
    if not isinstance(cls, type):
        raise TypeError(f'{key}: cannot name {cls!r}')
    return cls.__name__


def base_of(key):
    return key[:-len('_layer')] if key.endswith('_layer') else key


class Backbone:
    """A hybrid backbone constructor call, recorded instead of run."""

    def __init__(self, desc):
        self.desc = desc


def serialise_value(key, v, out):
    """Add key (and partial()-derived sibling keys) to out."""
    if isinstance(v, Backbone):
        raise TypeError(f'{key}: bare backbone')
    if isinstance(v, functools.partial):
        cls, kw = v.func, dict(v.keywords)
        if v.args:
            raise TypeError(f'{key}: partial with positional args {v.args!r}')
        if cls is HybridEmbed:
            out[key] = 'HybridEmbed'
            bb = kw.pop('backbone')
            if not isinstance(bb, Backbone):
                raise TypeError(f'{key}: backbone {bb!r} was not described')
            put(out, 'backbone', bb.desc)
        else:
            out[key] = class_name(cls, key)
        if is_norm(cls):
            kw.setdefault('eps', default_eps(cls))
        for k, x in kw.items():
            serialise_value(f'{base_of(key)}_{k}', x, out)
        return
    if isinstance(v, type):
        put(out, key, class_name(v, key))
        if is_norm(v):
            put(out, f'{base_of(key)}_eps', default_eps(v))
        return
    put(out, key, plain(key, v))


def put(out, key, value):
    if key in out:
        raise KeyError(f'serialised key {key} collides')
    out[key] = value


def plain(key, v):
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (tuple, list)):
        return [plain(key, x) for x in v]
    if isinstance(v, dict):
        return {k: plain(key, x) for k, x in v.items()}
    raise TypeError(f'{key}: cannot serialise {v!r}')


def serialise_args(kwargs, ctor_params):
    out = OrderedDict()
    for k, v in kwargs.items():
        serialise_value(k, v, out)
    # derived keys must not shadow a real constructor argument
    clash = [k for k in out if k not in kwargs and k in ctor_params]
    if clash:
        raise KeyError(f'derived keys {clash} shadow constructor arguments')
    return out


# ---- hybrid backbones as data --------------------------------------------------------------------------------------
def sig_defaults(fn):
    return {n: p.default for n, p in inspect.signature(fn).parameters.items() if p.default is not inspect.Parameter.empty}


CONV_NAMES = {StdConv2dSame: 'std_conv2d_same', StdConv2d: 'std_conv2d'}


def describe_resnetv2(layers, kw, defaults):
    conv = kw.get('conv_layer', defaults['conv_layer'])
    conv_cls = conv.func if isinstance(conv, functools.partial) else conv
    # the description has no conv eps: modern timm's is 1e-8 (the seed's 1e-5 is implied by the legacy era)
    conv_eps = conv.keywords.get('eps') if isinstance(conv, functools.partial) else None
    if conv_eps != 1e-8:
        raise TypeError(f'resnetv2 conv eps {conv_eps!r}, the description assumes 1e-8')
    norm = kw.get('norm_layer', defaults['norm_layer'])
    if not (isinstance(norm, functools.partial) and norm.func is tm_resnetv2.GroupNormAct):
        raise TypeError(f'resnetv2 norm {norm!r}')
    channels = list(kw.get('channels', sig_defaults(tm_resnetv2.ResNetV2)['channels']))[:len(layers)]
    return OrderedDict(
        type='resnetv2', layers=list(layers), channels=channels,
        stem_chs=kw.get('out_chs', kw.get('stem_chs', defaults.get('stem_chs', defaults.get('out_chs')))),
        stem_type=kw.get('stem_type', defaults['stem_type']), preact=kw.get('preact', defaults['preact']),
        conv=CONV_NAMES[conv_cls], norm='group_norm', num_groups=norm.keywords['num_groups'],
    )


def resnetv2_standin(*a, **kw):
    d = sig_defaults(tm_resnetv2.ResNetV2)
    layers = kw.pop('layers') if 'layers' in kw else a[0]
    if kw.get('num_classes') != 0 or kw.get('global_pool') != '':
        raise TypeError(f'resnetv2 backbone with a head: {kw}')
    return Backbone(describe_resnetv2(layers, kw, d))


def resnetv2_stem_standin(in_chs, **kw):
    return Backbone(describe_resnetv2([], kw, sig_defaults(tm_resnetv2.create_resnetv2_stem)))


def resnet_standin(entry):
    """resnet26d(...) etc.: run the real entrypoint with timm.models.resnet._create_resnet recording its kwargs."""
    def call(pretrained=False, **kw):
        seen = {}
        real = tm_resnet._create_resnet
        tm_resnet._create_resnet = lambda variant, pretrained=False, **k: seen.update(k, variant=variant)
        try:
            entry(pretrained=pretrained, **kw)
        finally:
            tm_resnet._create_resnet = real
        d = sig_defaults(tm_resnet.ResNet.__init__)
        if seen.get('features_only') is not True or len(seen.get('out_indices', [])) != 1:
            raise TypeError(f'resnet backbone {seen}')
        idx = seen['out_indices'][0]
        block = seen['block']
        return Backbone(OrderedDict(
            type='resnet', block={tm_resnet.Bottleneck: 'bottleneck', tm_resnet.BasicBlock: 'basic'}[block],
            layers=list(seen['layers'])[:idx], stem_width=seen.get('stem_width', d['stem_width']),
            stem_type=seen.get('stem_type', d['stem_type']), avg_down=seen.get('avg_down', d['avg_down']),
            channels=list(seen.get('channels', d['channels']))[:idx], out_index=idx,
        ))
    return call


def conv_stem_standin(**kw):
    d = sig_defaults(ConvStem.__init__)
    desc = OrderedDict(type='conv_stem')
    for k in ('depth', 'channels', 'kernel_size', 'stride', 'padding'):
        desc[k] = plain(k, kw.get(k, d[k]))
    serialise_value('norm_layer', kw.get('norm_layer', d['norm_layer']), desc)
    serialise_value('act_layer', kw.get('act_layer', d['act_layer']), desc)
    return Backbone(desc)


@contextmanager
def patched(obj, **attrs):
    old = {k: getattr(obj, k) for k in attrs}
    for k, v in attrs.items():
        setattr(obj, k, v)
    try:
        yield
    finally:
        for k, v in old.items():
            setattr(obj, k, v)


# ---- capture --------------------------------------------------------------------------------------------------------
def filter_desc(fn):
    """checkpoint_filter_fn (or a partial of it) -> (module name, kwargs)."""
    kw = {}
    if isinstance(fn, functools.partial):
        kw = plain('filter_args', dict(fn.keywords))
        fn = fn.func
    return fn.__module__.rsplit('.', 1)[-1], kw


def capture(name, module):
    seen = {}

    def fake_build(model_cls, variant, pretrained, **kwargs):
        seen.update(cls=model_cls, variant=variant, kwargs=kwargs)
        return None

    m = mods[module]
    extra = {}
    if module == 'vision_transformer_hybrid':
        extra = dict(ResNetV2=resnetv2_standin, create_resnetv2_stem=resnetv2_stem_standin,
                     resnet26d=resnet_standin(tm_resnet.resnet26d), resnet50d=resnet_standin(tm_resnet.resnet50d),
                     ConvStem=conv_stem_standin)
    with patched(m, build_model_with_cfg=fake_build, **extra):
        registry.model_entrypoint(name)(pretrained=False)
    if seen.get('variant') != name:
        raise RuntimeError(f'{name}: entrypoint built {seen.get("variant")!r}')
    kwargs = dict(seen['kwargs'])
    builder = {k: kwargs.pop(k) for k in list(kwargs) if k in BUILDER_ARGS}
    cls = seen['cls']
    ctor = set(inspect.signature(cls.__init__).parameters) | set(inspect.signature(mods['vision_transformer'].VisionTransformer.__init__).parameters)
    args = serialise_args(kwargs, ctor)
    load = OrderedDict()
    if 'pretrained_filter_fn' in builder:
        load['filter'], fa = filter_desc(builder['pretrained_filter_fn'])
        if fa:
            load['filter_args'] = fa
    if builder.get('pretrained_strict', True) is not True:
        load['strict'] = builder['pretrained_strict']
    return cls, args, load


# ---- rebuild from the serialised form (the check that names are lossless) -----------------------------------------
ACT_BY_NAME = {n: get_act_layer(n) for n in ACT_NAMES}
NORM_BY_NAME = {n: get_norm_layer(n) for n in NORM_NAMES}


def find_class(name):
    for m in list(mods.values()) + [importlib.import_module('timm.layers')]:
        c = getattr(m, name, None)
        if isinstance(c, type):
            return c
    raise KeyError(name)


def layer_from(name):
    if name in ACT_BY_NAME:
        return ACT_BY_NAME[name]
    if name in NORM_BY_NAME:
        return NORM_BY_NAME[name]
    return find_class(name)


def rebuild_backbone(d, in_chans):
    if d['type'] == 'resnetv2':
        conv = functools.partial({v: k for k, v in CONV_NAMES.items()}[d['conv']], eps=1e-8)
        norm = functools.partial(tm_resnetv2.GroupNormAct, num_groups=d['num_groups'])
        if d['layers']:
            return tm_resnetv2.ResNetV2(layers=d['layers'], channels=d['channels'], num_classes=0, global_pool='',
                                        in_chans=in_chans, stem_chs=d['stem_chs'], stem_type=d['stem_type'],
                                        preact=d['preact'], conv_layer=conv, norm_layer=norm)
        return tm_resnetv2.create_resnetv2_stem(in_chans, out_chs=d['stem_chs'], stem_type=d['stem_type'],
                                                preact=d['preact'], conv_layer=conv, norm_layer=norm)
    if d['type'] == 'resnet':
        block = {'bottleneck': tm_resnet.Bottleneck, 'basic': tm_resnet.BasicBlock}[d['block']]
        return timm.models.build_model_with_cfg(
            tm_resnet.ResNet, 'resnet50d', False, features_only=True, out_indices=[d['out_index']], block=block,
            layers=d['layers'], channels=d['channels'], stem_width=d['stem_width'], stem_type=d['stem_type'],
            avg_down=d['avg_down'], in_chans=in_chans)
    if d['type'] == 'conv_stem':
        return ConvStem(in_chans=in_chans, depth=d['depth'], channels=d['channels'],
                               kernel_size=d['kernel_size'], stride=d['stride'], padding=d['padding'],
                               norm_layer=functools.partial(layer_from(d['norm_layer']), eps=d['norm_eps']),
                               act_layer=layer_from(d['act_layer']))
    raise KeyError(d['type'])


def unflatten(args, ctor_params):
    """Inverse of serialise_args: layer names + derived sibling keys -> classes / partials."""
    kw = {}
    derived = {}
    layer_keys = [k for k in args if (k.endswith('_layer') or k == 'block_fn') and k in ctor_params]
    for k, v in args.items():
        owners = [lk for lk in layer_keys if lk != k and k.startswith(base_of(lk) + '_') and k not in ctor_params]
        owner = max(owners, key=len) if owners else None
        if owner:
            derived.setdefault(owner, {})[k[len(base_of(owner)) + 1:]] = v
        elif k != 'backbone':
            kw[k] = v
    for lk in layer_keys:
        v = kw[lk]
        if not isinstance(v, str):
            continue
        sub = derived.get(lk, {})
        if lk == 'embed_layer' and v == 'HybridEmbed':
            bb = rebuild_backbone(args['backbone'], args.get('in_chans', 3))
            kw[lk] = functools.partial(HybridEmbed, backbone=bb, **sub)
            continue
        try:
            cls = layer_from(v)
        except KeyError:
            if sub:
                raise
            continue  # a string timm resolves itself (attn_layer='diff')
        sub = {sk: (layer_from(sv) if sk.endswith('_layer') and isinstance(sv, str) else sv) for sk, sv in sub.items()}
        kw[lk] = functools.partial(cls, **sub) if sub else cls
    return kw


def module_fingerprint(model):
    sd = [[k, list(t.shape)] for k, t in model.state_dict().items()]
    return sd, repr(model)


def normalise_repr(s):
    # torch's and timm's LayerNorm print alike; torch's nn.GELU and timm's GELU (both exact erf) print differently
    return s.replace("GELU(approximate='none')", 'GELU()')


def main():
    version = timm.__version__
    print(f'timm {version}, torch {torch.__version__}')
    archs = OrderedDict()
    states = OrderedDict()
    counts = {}
    problems = []
    deprecated = OrderedDict()
    order = list(registry._model_entrypoints)
    only = set(sys.argv[1:])
    for module in MODULES:
        listed = set(registry.list_models(module=module))  # excludes the deprecated aliases
        names = [n for n in order if n in listed]
        assert len(names) == len(listed), module
        deprecated.update(registry._module_to_deprecated_models.get(module, {}))
        counts[module] = {'architectures': len(names), 'tags': 0, 'tags_with_weights': 0}
        for name in names:
            if only and name not in only:
                continue
            # 1. the model timm builds for the bare name, on the meta device
            with torch.device('meta'):
                model = timm.create_model(name)
            sd, rep = module_fingerprint(model)
            params = sum(p.numel() for p in model.parameters())
            states[name] = OrderedDict(state_dict=sd, params=params)
            # 2. the entrypoint's arguments
            cls, args, load = capture(name, module)
            # 3. every tag's cfg, timm's order (default first)
            dc = registry._model_default_cfgs[name]
            cfgs = OrderedDict()
            for tag in dc.tags:
                key = f'{name}.{tag}' if tag else name
                c = registry._model_pretrained_cfgs[key].to_dict(remove_source=False, remove_null=True)
                cfgs[tag] = json.loads(json.dumps(c))
                counts[module]['tags'] += 1
                counts[module]['tags_with_weights'] += bool(registry._model_pretrained_cfgs[key].has_weights)
            default = dc.tags[0]
            head = dict((k, s) for k, s in sd).get('head.weight')
            if (head[0] if head else 0) != max(cfgs[default]['num_classes'], 0):
                problems.append(f'{name}: default tag {default} num_classes {cfgs[default]["num_classes"]} vs head {head}')
            # 4. rebuild from the serialised args: same state_dict and module repr
            ctor = set(inspect.signature(cls.__init__).parameters) | set(inspect.signature(mods['vision_transformer'].VisionTransformer.__init__).parameters)
            with torch.device('meta'):
                kw = unflatten(json.loads(json.dumps(args)), ctor)
                again = timm.models.build_model_with_cfg(cls, name, False, feature_cfg=dict(out_indices=3, feature_cls='getter'), **kw)
            sd2, rep2 = module_fingerprint(again)
            if sd2 != sd:
                problems.append(f'{name}: rebuilt state_dict differs')
            elif normalise_repr(rep2) != normalise_repr(rep):
                a, b = rep.splitlines(), rep2.splitlines()
                i = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
                problems.append(f'{name}: rebuilt module repr differs at line {i}: {a[i:i + 1]} vs {b[i:i + 1]}')
            entry = OrderedDict(module=module, model_class=cls.__name__, model_args=args)
            if load:
                entry['load'] = load
            entry['default_tag'] = default
            entry['pretrained_cfgs'] = cfgs
            archs[name] = entry
            print(f'{module:26s} {name:52s} {cls.__name__:27s} {len(sd):5d} keys {params/1e6:9.2f}M', flush=True)
    class_defaults = OrderedDict()
    for cname, cls in (('VisionTransformer', mods['vision_transformer'].VisionTransformer),
                       ('VisionTransformerDistilled', mods['vision_transformer'].VisionTransformer),
                       ('Eva', mods['eva'].Eva)):
        d = {k: v for k, v in sig_defaults(cls.__init__).items() if k not in ('device', 'dtype')}
        class_defaults[cname] = serialise_args(d, set())
    if problems:
        print('\n'.join(problems))
        raise SystemExit(f'{len(problems)} problem(s)')

    head = OrderedDict(
        timm_version=version, torch_version=torch.__version__.split('+')[0], generated_by='scripts/dump-timm-registry.py',
        modules=counts, class_defaults=class_defaults, deprecated=deprecated,
    )
    with open(os.path.join(OUT_DIR, 'timm-registry.json'), 'w') as f:
        f.write('{\n')
        for k, v in head.items():
            f.write(f'  {json.dumps(k)}: {json.dumps(v)},\n')
        f.write('  "architectures": {\n')
        f.write(',\n'.join(f'    {json.dumps(n)}: {json.dumps(e)}' for n, e in archs.items()))
        f.write('\n  }\n}\n')
    body = '{\n' + ',\n'.join(f'{json.dumps(n)}: {json.dumps(e)}' for n, e in states.items()) + '\n}\n'
    with open(os.path.join(OUT_DIR, 'timm-state-dicts.json.gz'), 'wb') as raw:
        with gzip.GzipFile(filename='', mode='wb', fileobj=raw, mtime=0, compresslevel=9) as gz:
            gz.write(body.encode())
    print(json.dumps(counts, indent=1))


if __name__ == '__main__':
    main()
